"""Registries of stage factories and writers, by name.

Names resolve in this order: objects registered in the process (``@register_stage``), the
built-in table (import paths, imported on first use), then the entry-point groups
``asr_pipeline.stages`` and ``asr_pipeline.writers`` of installed plugins. Listing names imports
nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

from .errors import ConfigError, UnknownNameError

__all__ = ["Registry", "register_stage", "register_writer", "stages", "writers"]

T = TypeVar("T")

BUILTIN_STAGES = {
    "vad": "asr_pipeline.vad:VadStage",
    "ctc": "asr_pipeline.ctc:CtcStage",
    "numbers": "postprocess.numbers:NumbersStage",
    "punctuation": "postprocess.punctuation:PunctuationStage",
    "casing": "postprocess.casing:CasingStage",
}

BUILTIN_WRITERS = {
    "txt": "asr_pipeline.writers:TextWriter",
    "json": "asr_pipeline.writers:JsonWriter",
    "srt": "asr_pipeline.writers:SrtWriter",
    "vtt": "asr_pipeline.writers:VttWriter",
    "md": "asr_pipeline.writers:MarkdownWriter",
    "docx": "asr_pipeline.writers:DocxWriter",
    "textgrid": "asr_pipeline.writers:TextGridWriter",
    "eaf": "asr_pipeline.writers:EafWriter",
    "ctm": "asr_pipeline.writers:CtmWriter",
}


def _import(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


class Registry:
    """Named factories of one kind (stages or writers)."""

    def __init__(self, kind: str, group: str, builtins: dict[str, str]) -> None:
        self.kind = kind
        self.group = group
        self._builtins = dict(builtins)
        self._local: dict[str, Any] = {}

    def _entry_points(self) -> dict[str, EntryPoint]:
        return {ep.name: ep for ep in entry_points(group=self.group)}

    def register(self, name: str, obj: T | None = None) -> Any:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator."""

        def add(target: T) -> T:
            known = self._local.get(name)
            if known is not None and known is not target:
                raise ConfigError(f"a different {self.kind} is already registered as '{name}'")
            self._local[name] = target
            return target

        return add if obj is None else add(obj)

    def unregister(self, name: str) -> None:
        """Forget an in-process registration (tests, interactive use)."""
        self._local.pop(name, None)

    def names(self) -> list[str]:
        """Every known name, without importing any of them."""
        return sorted({*self._local, *self._builtins, *self._entry_points()})

    def origin(self, name: str) -> str:
        """Where a name comes from: 'local', 'built-in' or 'plugin <distribution>'."""
        if name in self._local:
            return "local"
        if name in self._builtins:
            return "built-in"
        ep = self._entry_points().get(name)
        if ep is None:
            raise UnknownNameError(self.kind, name, self.names())
        dist = ep.dist.name if ep.dist else ep.value
        return f"plugin {dist}"

    def get(self, name: str, path: str | None = None) -> Any:
        """The factory (or writer class) for ``name``; imports it on first use."""
        if name in self._local:
            return self._local[name]
        if name in self._builtins:
            return _import(self._builtins[name])
        ep = self._entry_points().get(name)
        if ep is None:
            raise UnknownNameError(self.kind, name, self.names(), path)
        try:
            return ep.load()
        except Exception as e:
            raise ConfigError(
                f"the plugin {self.kind} '{name}' ({ep.value}) failed to load: {e}", path
            ) from e

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()


stages = Registry("stage", "asr_pipeline.stages", BUILTIN_STAGES)
writers = Registry("writer", "asr_pipeline.writers", BUILTIN_WRITERS)


def register_stage(name: str) -> Callable[[T], T]:
    """Decorator: register a stage factory (a class or function with keyword options)."""
    return stages.register(name)


def register_writer(name: str) -> Callable[[T], T]:
    """Decorator: register a writer class for an output format."""
    return writers.register(name)
