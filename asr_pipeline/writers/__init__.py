"""Output formats: a writer turns a transcript into a file.

A writer is a class with keyword options (validated from the config's ``writers: {fmt: {...}}``
section), an ``extension``, a ``binary`` flag and ``write(transcript, fp)``. Writers are found by
format name through :data:`asr_pipeline.registry.writers`, so plugins can add formats.

>>> from asr_pipeline import Transcript
>>> import io
>>> fp = io.StringIO()
>>> get_writer("txt").write(Transcript.from_text("добрый день"), fp)
>>> fp.getvalue()
'добрый день\\n'

Formats: ``txt``, ``md`` and ``docx`` (paragraphs with timestamps and speakers), ``srt`` and
``vtt`` (subtitles), ``json`` (everything, readable again by ``render``); ``textgrid``,
``eaf`` and ``ctm`` (annotation tools: Praat, ELAN, scoring kits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import validate_options
from ..errors import ConfigError, UnknownNameError
from ..io import atomic_write
from ..registry import writers as writer_registry
from ..types import Transcript, Writer
from .annotation import CtmWriter, EafWriter, TextGridWriter
from .data import JsonWriter
from .document import DocxWriter
from .markdown import MarkdownWriter
from .subtitles import SrtWriter, VttWriter
from .text import TextWriter

__all__ = [
    "CtmWriter",
    "DocxWriter",
    "EafWriter",
    "JsonWriter",
    "MarkdownWriter",
    "SrtWriter",
    "TextGridWriter",
    "TextWriter",
    "VttWriter",
    "get_writer",
    "parse_formats",
    "write_transcript",
]


def parse_formats(formats: str | Sequence[str], path: str = "--format") -> list[str]:
    """Format names from ``"json,srt"`` or a list; unknown names raise with a did-you-mean."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    names = list(dict.fromkeys(f.strip().lower() for f in items if f.strip()))
    if not names:
        raise ConfigError("give at least one format, e.g. txt,srt", path)
    known = writer_registry.names()
    for name in names:
        if name not in known:
            raise UnknownNameError("format", name, known, path)
    return names


def get_writer(fmt: str, options: Mapping[str, Any] | None = None) -> Writer:
    """A writer for ``fmt`` built with ``options`` (checked against the writer's signature)."""
    path = f"writers.{fmt}"
    cls = writer_registry.get(fmt, path)
    writer = cls(**validate_options(cls, dict(options or {}), path))
    if not isinstance(getattr(writer, "extension", None), str):
        raise ConfigError(f"writer {cls.__name__} has no 'extension'", path)
    return writer


def write_transcript(transcript: Transcript, path: str | Path, writer: Writer) -> None:
    """Write atomically: ``path`` is either the complete output or left as it was."""
    with atomic_write(path, binary=bool(getattr(writer, "binary", False))) as fp:
        writer.write(transcript, fp)
