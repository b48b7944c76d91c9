"""Recognising manifest entries on an executor, timing each and going on past failures."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AsrPipelineError
from .manifest import Entry

if TYPE_CHECKING:
    from ..executors import Executor, Item, Job, Span
    from ..types import Audio

__all__ = ["Recognised", "read_span", "recognise"]


def read_span(path: Path, span: Span, *, where: str = "") -> Audio:
    """``(start, end)`` seconds of ``path`` (end None: to its end), every channel kept, as audio
    in memory with times from 0. ``where`` prefixes the error for a span past the end."""
    import numpy as np

    from ..types import Audio

    audio = Audio.open(path)
    start, end = span
    if start >= audio.duration:
        raise AsrPipelineError(
            f"{where}the span starts at {start:g} s, after the end of {path} "
            f"({audio.duration:.2f} s)"
        )
    channels = [audio.read(start, end, channel=c) for c in range(audio.channels)]
    return Audio.from_array(np.stack(channels), source=str(path))


@dataclass
class Recognised:
    """Hypotheses, timings and failures of a manifest's entries, by entry id."""

    texts: dict[str, str] = field(default_factory=dict)
    timings: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Entry id -> (audio seconds, processing seconds)."""
    failures: dict[str, str] = field(default_factory=dict)
    turns: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    """Entry id -> speaker turns, for entries with an RTTM reference."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """model, revision, config_hash and stages of the first transcript."""
    load_s: float = 0.0
    """Wall time not spent on files: loading the pipeline (on every worker), starting workers."""


def recognise(
    entries: list[Entry], executor: Executor, job: Job, *, progress: bool | None = None
) -> Recognised:
    """Recognise every entry (a file, or a span of one) with ``job`` on ``executor``; a
    failure is recorded and the rest still run."""
    from ..executors import run_job

    by_key = {(entry.path, entry.span if entry.is_span else None): entry for entry in entries}
    result = run_job(executor, job, _items(list(by_key)), progress=progress)
    found = Recognised(load_s=max(0.0, result.wall_s - sum(o.seconds for o in result.outcomes)))
    for outcome in result.outcomes:
        entry = by_key[outcome.path, outcome.span]
        if outcome.ok:
            found.texts[entry.id] = outcome.text or ""
            found.timings[entry.id] = (outcome.audio_s, outcome.seconds)
            if not found.metadata and outcome.metadata:
                found.metadata = outcome.metadata
            if entry.rttm is not None:
                found.turns[entry.id] = outcome.turns or []
        else:
            message = outcome.message or ""
            found.failures[entry.id] = f"{entry.where}: {message}" if entry.is_span else message
    return found


def _items(keys: list[tuple[Path, Span | None]]) -> list[Item]:
    """An item per file or span, longest first, as transcribe orders files (so no long file
    finishes last alone); the duration of a file that is not a bounded span is read."""
    from ..executors import Item
    from ..executors.progress import audio_duration

    items = [Item(path, _length(span), span) for path, span in keys]
    items = [i if i.duration else replace(i, duration=audio_duration(i.path)) for i in items]
    return sorted(items, key=lambda item: -item.duration)


def _length(span: Span | None) -> float:
    """Seconds in a span with a known end; 0 otherwise."""
    return span[1] - span[0] if span is not None and span[1] is not None else 0.0
