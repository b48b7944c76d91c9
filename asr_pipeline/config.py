"""YAML configuration: loading, ``--set`` overrides, validation against factory signatures.

A config has spaCy's shape::

    pipeline: [vad, ctc, numbers, punctuation, casing]
    stages:
      vad: {threshold: 0.5}
      ctc: {model: jonatasgrosman/wav2vec2-large-xlsr-53-russian}
      numbers2: {factory: numbers, style: digits}   # one factory under a second name

Defaults live in one place: the keyword arguments of each factory. Validation imports the
factories (never torch: stages import heavy libraries when they are built) and checks every option
before any model is built.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import inspect
import json
import math
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml

from .errors import ConfigError, UnknownNameError, shorten
from .io import TEXT_FILE_LIMIT, read_text_file, regular_file
from .registry import stages as stage_registry
from .registry import writers as writer_registry

__all__ = [
    "DEFAULT_PIPELINE",
    "InputOptions",
    "Option",
    "File",
    "PipelineConfig",
    "Range",
    "StageSpec",
    "load_config",
    "options_of",
    "resolve_config",
    "safe_load",
]

DEFAULT_PIPELINE = ("vad", "ctc", "numbers", "punctuation", "casing")
SHARED_OPTIONS = ("device", "vocabulary")
"""Top-level keys handed to every stage whose factory takes an option of that name."""
TOP_LEVEL_KEYS = ("pipeline", "stages", "input", "writers", *SHARED_OPTIONS)
_MISSING = inspect.Parameter.empty
CONFIG_FILE_LIMIT = 2**20
"""The largest config file read: 1 MiB."""
YAML_NODE_LIMIT = 100_000
"""The most YAML nodes a config may expand to, aliases counted at every use (an alias bomb
expands a few hundred bytes into billions)."""


@dataclass(frozen=True)
class InputOptions:
    """How sources are read.

    Options:
        channels: recognise each channel on its own (stereo call recordings), one speaker each.
        speakers: names for the channels' speakers (default "Спикер 1", "Спикер 2", ...).
    """

    channels: bool = False
    speakers: list[str] | None = None


@dataclass(frozen=True)
class Range:
    """Bounds of a number option, declared with its type and checked when a config is resolved::

        threshold: Annotated[float, Range(gt=0, lt=1)] = 0.5

    NaN is outside every range; ``None`` (where the option allows it) is not checked.
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def check(self, value: Any, path: str) -> None:
        """Raise :class:`ConfigError` at ``path`` unless ``value`` (a number) is in range."""
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return
        inside = (
            (self.ge is None or value >= self.ge)
            and (self.gt is None or value > self.gt)
            and (self.le is None or value <= self.le)
            and (self.lt is None or value < self.lt)
        )
        if not inside or math.isnan(value):
            raise ConfigError(f"expected a number {self}, got {value}", path)

    def __str__(self) -> str:
        bounds = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
        return " and ".join(
            f"{sign} {getattr(self, k):g}" for k, sign in bounds if getattr(self, k) is not None
        )


@dataclass(frozen=True)
class File:
    """A file option, declared with its type and checked when a config is resolved: it must
    name a regular file of at most ``limit`` bytes (or, with ``folder``, a folder)::

        vocabulary: Annotated[str | None, File()] = None
    """

    limit: int | None = TEXT_FILE_LIMIT
    folder: bool = False

    def check(self, value: Any, path: str) -> None:
        """Raise :class:`ConfigError` at ``path`` unless ``value`` (a path) names such a file."""
        if not isinstance(value, str) or (self.folder and Path(value).expanduser().is_dir()):
            return
        regular_file(value, limit=self.limit, where=path)


@dataclass(frozen=True)
class Option:
    """One option of a factory: its name, default (``required`` if none), type, and the
    checks declared with the type (:class:`Range`, :class:`File`)."""

    name: str
    default: Any
    annotation: Any
    help: str = ""
    checks: tuple[Range | File, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is _MISSING


@dataclass(frozen=True)
class StageSpec:
    """A validated stage entry: its name, factory name and complete options."""

    name: str
    factory: str
    options: dict[str, Any]


@dataclass(frozen=True)
class PipelineConfig:
    """A validated configuration with every default filled in."""

    pipeline: tuple[str, ...]
    stages: dict[str, StageSpec]
    input: InputOptions = InputOptions()
    writers: dict[str, dict[str, Any]] = field(default_factory=dict)
    device: str | None = None
    vocabulary: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The effective config as plain data (what ``config show`` prints)."""
        return {
            "pipeline": list(self.pipeline),
            "device": self.device,
            "vocabulary": self.vocabulary,
            "input": dataclasses.asdict(self.input),
            "stages": {
                name: {"factory": spec.factory, **spec.options}
                for name, spec in self.stages.items()
            },
            "writers": copy.deepcopy(self.writers),
        }

    @functools.cached_property
    def hash(self) -> str:
        """A short, stable hash of the effective config."""
        text = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- loading


def load_config(
    source: str | Path | Mapping[str, Any] | None = None, overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """Read a YAML file (or take a mapping) and apply ``key.path=value`` overrides.

    The result is raw, unvalidated data; :func:`resolve_config` checks it.
    """
    if source is None:
        data: dict[str, Any] = {}
    elif isinstance(source, Mapping):
        data = copy.deepcopy(dict(source))
    else:
        path = Path(source)
        text = read_text_file(path, where="config file", limit=CONFIG_FILE_LIMIT)
        try:
            loaded = safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"invalid YAML: {shorten(str(e), 1000)}", str(path)) from e
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"expected a mapping at the top, got {_kind(loaded)}", str(path))
        data = loaded
    for item in overrides:
        set_option(data, item)
    return data


def set_option(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``a.b.c=value`` override in place; the value is parsed as YAML."""
    key, sep, raw = assignment.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"expected KEY.PATH=VALUE, got {shorten(assignment)!r}", "--set")
    try:
        value = safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        if isinstance(e, YamlTooLarge):
            raise ConfigError(str(e), key) from e
        value = raw
    *parents, last = key.split(".")
    node = data
    for i, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"is {_kind(child)}, not a section", ".".join(parents[: i + 1]))
        node = child
    node[last] = value


class YamlTooLarge(yaml.YAMLError):
    """A YAML document expanding to more than :data:`YAML_NODE_LIMIT` nodes."""


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that counts the nodes a document expands to (an alias counts its
    whole subtree each time it is used) and refuses it past :data:`YAML_NODE_LIMIT`, before
    anything is constructed."""

    def construct_document(self, node: yaml.Node) -> Any:
        sizes: dict[int, int] = {}

        def size(node: yaml.Node) -> int:
            key = id(node)
            if key not in sizes:
                sizes[key] = 1  # a recursive alias counts once, as safe_load builds it once
                children: list[Any] = []
                if isinstance(node, yaml.SequenceNode):
                    children = node.value
                elif isinstance(node, yaml.MappingNode):
                    children = [n for pair in node.value for n in pair]
                total = 1
                for child in children:
                    total += size(child)
                    if total > YAML_NODE_LIMIT:
                        break
                sizes[key] = total
            return sizes[key]

        if size(node) > YAML_NODE_LIMIT:
            raise YamlTooLarge(
                f"the YAML expands to more than {YAML_NODE_LIMIT} values (aliases counted "
                "at each use); write the values out or shorten it"
            )
        return super().construct_document(node)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with a bound on the document's expanded size (:class:`YamlTooLarge`)."""
    return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 (a SafeLoader subclass)


# ---------------------------------------------------------------- validation


def resolve_config(data: Mapping[str, Any]) -> PipelineConfig:
    """Validate raw config data and fill in defaults; builds nothing."""
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise UnknownNameError("config key", str(key), list(TOP_LEVEL_KEYS), str(key))
    pipeline = data.get("pipeline", DEFAULT_PIPELINE)
    if isinstance(pipeline, str):
        pipeline = [p.strip() for p in pipeline.split(",") if p.strip()]
    if not isinstance(pipeline, (list, tuple)) or not all(isinstance(p, str) for p in pipeline):
        raise ConfigError(f"expected a list of stage names, got {_show(pipeline)}", "pipeline")
    duplicates = {p for p in pipeline if list(pipeline).count(p) > 1}
    if duplicates:
        raise ConfigError(
            f"stage names must be unique: {', '.join(sorted(duplicates))}", "pipeline"
        )
    raw_stages = data.get("stages") or {}
    if not isinstance(raw_stages, Mapping):
        raise ConfigError(f"expected a mapping of stage names, got {_show(raw_stages)}", "stages")

    shared = {key: data.get(key) for key in SHARED_OPTIONS}
    for key in SHARED_OPTIONS:
        if shared[key] is not None and not isinstance(shared[key], str):
            raise ConfigError(f"expected a string, got {_show(shared[key])}", key)

    specs: dict[str, StageSpec] = {}
    names = list(dict.fromkeys([*pipeline, *raw_stages]))
    for index, name in enumerate(names):
        entry = raw_stages.get(name) or {}
        where = f"stages.{name}" if name in raw_stages else f"pipeline[{index}]"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"expected a mapping of options, got {_show(entry)}", where)
        entry = dict(entry)
        factory_name = entry.pop("factory", name)
        if not isinstance(factory_name, str):
            raise ConfigError(
                f"expected a factory name, got {_show(factory_name)}", f"{where}.factory"
            )
        path = f"{where}.factory" if factory_name != name else where
        factory = stage_registry.get(factory_name, path)
        options = options_of(factory)
        for key, value in shared.items():
            if value is not None and key in options and key not in entry:
                entry[key] = value
        specs[name] = StageSpec(
            name, factory_name, validate_options(factory, entry, f"stages.{name}")
        )

    input_data = data.get("input") or {}
    if not isinstance(input_data, Mapping):
        raise ConfigError(f"expected a mapping, got {_show(input_data)}", "input")
    input_options = InputOptions(**validate_options(InputOptions, dict(input_data), "input"))

    raw_writers = data.get("writers") or {}
    if not isinstance(raw_writers, Mapping):
        raise ConfigError(f"expected a mapping of formats, got {_show(raw_writers)}", "writers")
    writer_options = {}
    for fmt, opts in raw_writers.items():
        if not isinstance(opts, Mapping):
            raise ConfigError(f"expected a mapping of options, got {_show(opts)}", f"writers.{fmt}")
        writer = writer_registry.get(str(fmt), f"writers.{fmt}")
        writer_options[str(fmt)] = validate_options(writer, dict(opts), f"writers.{fmt}")

    return PipelineConfig(
        pipeline=tuple(pipeline),
        stages=specs,
        input=input_options,
        writers=writer_options,
        device=shared["device"],
        vocabulary=shared["vocabulary"],
    )


def options_of(factory: Callable[..., Any]) -> dict[str, Option]:
    """The keyword options a factory takes, with defaults, types and help from its docstring."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception:
        hints = {}
    options = {}
    helps = _help_of(factory)
    for param in inspect.signature(factory).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            continue
        hint, checks = hints.get(param.name, Any), ()
        if typing.get_origin(hint) is Annotated:
            hint, *extras = typing.get_args(hint)
            checks = tuple(e for e in extras if isinstance(e, (Range, File)))
        options[param.name] = Option(
            param.name, param.default, hint, helps.get(param.name, ""), checks
        )
    return options


def validate_options(
    factory: Callable[..., Any], given: Mapping[str, Any], path: str
) -> dict[str, Any]:
    """Check and coerce options against a factory's signature; return them with defaults."""
    options = options_of(factory)
    for key in given:
        if key not in options:
            raise UnknownNameError("option", str(key), list(options), f"{path}.{key}")
    result = {}
    for name, option in options.items():
        if name in given:
            result[name] = coerce(given[name], option.annotation, f"{path}.{name}")
            for check in option.checks:
                check.check(result[name], f"{path}.{name}")
        elif option.required:
            raise ConfigError("this option is required", f"{path}.{name}")
        else:
            result[name] = copy.deepcopy(option.default)
    return result


def coerce(value: Any, hint: Any, path: str) -> Any:
    """Check ``value`` against a type hint, converting where it is safe (int to float...)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is _MISSING or isinstance(hint, (str, typing.TypeVar)):
        return value
    if origin is Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, path)
            except ConfigError as e:
                errors.append(str(e).removeprefix(f"{path}: "))
        raise ConfigError(" or ".join(errors) if errors else f"got {_show(value)}", path)
    if origin is Literal:
        if value in args:
            return value
        choices = ", ".join(repr(a) for a in args)
        raise ConfigError(f"expected one of {choices}, got {_show(value)}", path)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"expected true or false, got {_show(value)}", path)
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"expected a whole number, got {_show(value)}", path)
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isnan(value):
                raise ConfigError("expected a number, got NaN", path)
            return float(value)
        raise ConfigError(f"expected a number, got {_show(value)}", path)
    if hint is str or hint is Path:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"expected a string, got {_show(value)}", path)
    if origin in (list, tuple, Sequence, typing.Sequence) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"expected a list, got {_show(value)}", path)
        item = args[0] if args else Any
        items = [coerce(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin or hint) is tuple else items
    if origin in (dict, Mapping, typing.Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"expected a mapping, got {_show(value)}", path)
        return dict(value)
    return value


_HELP_LINE = re.compile(r"^\s{2,}(\w+):\s*(.+)$")


def summary_of(factory: Callable[..., Any]) -> str:
    """The first line of a factory's docstring."""
    doc = inspect.getdoc(factory) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _help_of(factory: Callable[..., Any]) -> dict[str, str]:
    """Option help of a factory; a class also inherits the help its base classes give, each
    class's own ``Options:`` lines winning over its bases'."""
    if not inspect.isclass(factory):
        return _option_help(inspect.getdoc(factory) or "")
    helps: dict[str, str] = {}
    for klass in reversed(inspect.getmro(factory)):
        helps |= _option_help(inspect.cleandoc(klass.__dict__.get("__doc__") or ""))
    return helps


def _option_help(doc: str) -> dict[str, str]:
    """Option help from an ``Options:`` section of a docstring (``name: text`` lines)."""
    helps: dict[str, str] = {}
    inside = False
    for line in doc.splitlines():
        if line.strip() == "Options:":
            inside = True
            continue
        if inside:
            match = _HELP_LINE.match(line)
            if match:
                helps[match.group(1)] = match.group(2).strip()
            elif line.strip() and not line.startswith(" "):
                inside = False
            elif line.strip() and helps:
                last = next(reversed(helps))
                helps[last] += " " + line.strip()
    return helps


def _show(value: Any) -> str:
    """A value as an error shows it, cut to 200 characters."""
    return shorten(repr(value) if isinstance(value, str) else f"{_kind(value)} {value!r}")


def _kind(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "nothing",
    }.get(type(value), type(value).__name__)
