"""Recognition of a transcript's segments: read, window, batch, run, stitch, decode."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import AudioError
from ..progress import report_audio
from ..types import SAMPLE_RATE, Segment, Transcript, Word
from .backend import Backend
from .batching import Piece, pack_batches, plan_windows, read_segments, stitch
from .decode import Decoder

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Recognizer"]

GROUP_S = 600.0
"""Seconds of speech read ahead and sorted by length at a time (about 38 MB of samples)."""


class Recognizer:
    """Fills a transcript's segments with timed words from a backend and a decoder.

    Segments are read in time order (one pass over the audio per channel), gathered into groups
    of about :data:`GROUP_S` seconds of speech, cut into overlapping windows when longer than
    ``chunk_s``, sorted by length and packed into batches of at most ``batch_s`` seconds
    (padding included). Segments that yield no words are kept, empty.
    """

    def __init__(
        self,
        backend: Backend,
        decoder: Decoder,
        *,
        batch_s: float,
        chunk_s: float,
        stride_s: float,
    ) -> None:
        self.backend = backend
        self.decoder = decoder
        frame = backend.frame_samples
        self.frame_s = frame / SAMPLE_RATE
        self.chunk = max(1, round(chunk_s * SAMPLE_RATE / frame)) * frame
        self.stride = round(stride_s * SAMPLE_RATE / frame) * frame
        self.budget = max(1, round(batch_s * SAMPLE_RATE))
        self.min_samples = next(n for n in range(1, 100_000) if backend.output_frames(n) > 0)

    def __call__(self, transcript: Transcript) -> Transcript:
        if not transcript.segments:
            return transcript
        if transcript.audio is None:
            raise AudioError(
                f"{transcript.source or 'transcript'}: has no audio to recognise; "
                "load the source with Pipeline.load or Audio.open"
            )
        words = self.recognize(transcript)
        segments = tuple(
            replace(segment, words=tuple(words.get(i, ())))
            for i, segment in enumerate(transcript.segments)
        )
        return replace(transcript, segments=segments)

    def recognize(self, transcript: Transcript) -> dict[int, list[Word]]:
        """Words per segment index.

        Progress is reported (:func:`~asr_pipeline.progress.report_audio`) in seconds of the
        source covered, batch by batch; several channels share the source's duration.
        """
        assert transcript.audio is not None
        by_channel: dict[int | None, list[tuple[int, Segment]]] = defaultdict(list)
        for i, segment in enumerate(transcript.segments):
            if segment.end > segment.start:
                by_channel[segment.channel].append((i, segment))
        duration = transcript.audio.duration
        share = 1 / max(1, len(by_channel))
        words: dict[int, list[Word]] = {}
        for channel, items in by_channel.items():
            items.sort(key=lambda item: (item[1].start, item[1].end))
            starts = {i: s.start for i, s in items}
            ends = {i: s.end for i, s in items}
            covered = 0.0
            stream = read_segments(transcript.audio, items, channel)
            for group in _groups(stream, round(GROUP_S * SAMPLE_RATE)):
                reach = max(covered, *(ends[key] for key, _ in group))
                span = (reach - covered) * share
                found = self.log_probs(group, lambda part, span=span: report_audio(span * part))
                timed = [
                    (log_probs, round(starts[key] * SAMPLE_RATE) / SAMPLE_RATE)
                    for key, log_probs in found.items()
                ]
                words.update(zip(found, self.decode(timed), strict=True))
                covered = reach
            report_audio((duration - covered) * share)
        return words

    def decode(self, items: Sequence[tuple[np.ndarray, float]]) -> list[list[Word]]:
        """Words of each ``(log_probs, start)``: in one call when the decoder takes batches
        (beam search spreads them over processes), else one by one."""
        decode_batch = getattr(self.decoder, "decode_batch", None)
        if decode_batch is not None:
            return decode_batch(items, self.frame_s)
        return [self.decoder.decode(lp, start, self.frame_s) for lp, start in items]

    def log_probs(
        self,
        segments: Sequence[tuple[int, np.ndarray]],
        on_batch: Callable[[float], None] | None = None,
    ) -> dict[int, np.ndarray]:
        """Stitched log-probabilities per segment key (segments too short for one frame are
        left out). ``on_batch`` hears each batch's part of the work (the parts sum to 1)."""
        import numpy as np

        pieces = [
            Piece(key, index, window, samples[window.start : window.end])
            for key, samples in segments
            if len(samples) >= self.min_samples
            for index, window in enumerate(
                plan_windows(len(samples), self.chunk, self.stride, self.backend.frame_samples)
            )
        ]
        results: dict[int, dict[int, np.ndarray]] = defaultdict(dict)
        empty = np.zeros((0, self.backend.vocabulary_size), dtype=np.float32)
        for piece in pieces:
            if piece.length < self.min_samples:  # a window too short for one frame
                results[piece.key][piece.index] = empty
        runnable = [p for p in pieces if p.length >= self.min_samples]
        total = sum(p.length for p in runnable)
        for batch in pack_batches(runnable, self.budget):
            outputs = self.backend.log_probs([p.samples for p in batch])
            for piece, log_probs in zip(batch, outputs, strict=True):
                results[piece.key][piece.index] = log_probs
            if on_batch is not None:
                on_batch(sum(p.length for p in batch) / total)
        if on_batch is not None and not runnable:
            on_batch(1.0)
        windows = {(p.key, p.index): p.window for p in pieces}
        return {
            key: stitch([(windows[key, i], parts[i]) for i in range(len(parts))])
            for key, parts in results.items()
        }


def _groups(
    stream: Iterator[tuple[int, np.ndarray]], budget: int
) -> Iterator[list[tuple[int, np.ndarray]]]:
    group: list[tuple[int, np.ndarray]] = []
    size = 0
    for key, samples in stream:
        group.append((key, samples))
        size += len(samples)
        if size >= budget:
            yield group
            group, size = [], 0
    if group:
        yield group
