"""Recognising manifest entries with a pipeline, timing each and going on past failures."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AsrPipelineError
from .manifest import Entry
from .speakers import speaker_turns

if TYPE_CHECKING:
    from ..pipeline import Pipeline
    from ..types import Audio, Transcript

__all__ = ["Recognition", "read_span", "span_audio"]


def span_audio(entry: Entry) -> Audio:
    """The entry's span of its file, every channel kept, as audio in memory (times from 0)."""
    return read_span(entry.path, entry.span, where=f"{entry.where}: ")


def read_span(path: Path, span: tuple[float, float | None], *, where: str = "") -> Audio:
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
class Recognition:
    """Hypotheses, timings and failures gathered while a pipeline transcribes entries."""

    pipeline: Pipeline
    texts: dict[str, str] = field(default_factory=dict)
    timings: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Entry id -> (audio seconds, processing seconds)."""
    failures: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    """model, revision, config_hash and stages of the first transcript."""
    turns: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    """Entry id -> speaker turns, for entries with an RTTM reference."""

    def transcribe(self, entry: Entry) -> Transcript:
        """Recognise one entry and record its text and timing; errors propagate."""
        started = time.perf_counter()
        transcript = self.pipeline(span_audio(entry) if entry.is_span else entry.path)
        elapsed = time.perf_counter() - started
        self.texts[entry.id] = transcript.text
        self.timings[entry.id] = (transcript.duration or 0.0, elapsed)
        if entry.rttm is not None:
            self.turns[entry.id] = speaker_turns(transcript)
        if not self.metadata:
            meta = transcript.metadata
            self.metadata = {
                "model": meta.model,
                "revision": meta.revision,
                "config_hash": meta.config_hash,
                "stages": list(meta.stages),
            }
        return transcript

    def run(self, entries: Iterable[Entry]) -> Recognition:
        """Recognise every entry; a failure is recorded and the rest still run."""
        for entry in entries:
            try:
                self.transcribe(entry)
            except Exception as e:
                message = str(e) if isinstance(e, AsrPipelineError) else f"{type(e).__name__}: {e}"
                message = " ".join(message.split())
                self.failures[entry.id] = (
                    message if entry.audio in message else f"{entry.audio}: {message}"
                )
        return self
