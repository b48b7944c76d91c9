"""Describing factories for people: one-line summaries, option types and YAML values."""

import collections.abc
import inspect
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

import yaml

from ..config import Option

__all__ = ["describe_option", "plain", "type_name", "yaml_value"]


def type_name(hint: Any) -> str:
    """A short, readable type: ``float``, ``list[str]``, ``'remove'|'mark'``, ``str | None``."""
    if hint is Any or hint is inspect.Parameter.empty:
        return "any"
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        return "|".join(repr(a) for a in args)
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join("None" if a is type(None) else type_name(a) for a in args)
    if origin is not None and args:
        name = "list" if origin is collections.abc.Sequence else getattr(origin, "__name__", "")
        return f"{name}[{', '.join(type_name(a) for a in args)}]"
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


def plain(value: Any) -> Any:
    """Data YAML's safe dumper accepts: tuples become lists, mappings become dicts."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return value


def yaml_value(value: Any) -> str:
    """One value in YAML flow style, as it would be written in a config or after ``--set``."""
    text = yaml.safe_dump(
        [plain(value)], default_flow_style=True, allow_unicode=True, width=math.inf
    )
    return text.strip()[1:-1]


def describe_option(option: Option) -> str:
    """``name: type = default`` (or ``(required)``)."""
    default = "(required)" if option.required else f"= {yaml_value(option.default)}"
    return f"{option.name}: {type_name(option.annotation)} {default}"
