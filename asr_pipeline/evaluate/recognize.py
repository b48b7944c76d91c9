"""Recognising manifest entries with a pipeline, timing each and going on past failures."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import AsrPipelineError
from .manifest import Entry

if TYPE_CHECKING:
    from ..pipeline import Pipeline
    from ..types import Audio, Transcript

__all__ = ["Recognition", "span_audio"]


def span_audio(entry: Entry) -> Audio:
    """The entry's span of its file, every channel kept, as audio in memory (times from 0)."""
    import numpy as np

    from ..types import Audio

    audio = Audio.open(entry.path)
    start, end = entry.span
    if start >= audio.duration:
        raise AsrPipelineError(
            f"{entry.where}: the span starts at {start:g} s, after the end of {entry.audio} "
            f"({audio.duration:.2f} s)"
        )
    channels = [audio.read(start, end, channel=c) for c in range(audio.channels)]
    return Audio.from_array(np.stack(channels), source=str(entry.path))


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

    def transcribe(self, entry: Entry) -> Transcript:
        """Recognise one entry and record its text and timing; errors propagate."""
        started = time.perf_counter()
        transcript = self.pipeline(span_audio(entry) if entry.is_span else entry.path)
        elapsed = time.perf_counter() - started
        self.texts[entry.id] = transcript.text
        self.timings[entry.id] = (transcript.duration or 0.0, elapsed)
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
