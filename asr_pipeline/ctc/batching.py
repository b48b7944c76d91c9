"""Planning the work: reading segments, cutting long ones into windows, packing batches,
and stitching the windows' log-probabilities back together.

Everything here counts in samples (16 kHz) and model frames; a frame is ``frame_samples``
samples (320 for wav2vec2). Windows start on frame boundaries, so the frames of overlapping
windows line up exactly and stitching is a matter of keeping each window's middle.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..types import SAMPLE_RATE, Audio, Segment

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Piece", "Window", "pack_batches", "plan_windows", "read_segments", "stitch"]


@dataclass(frozen=True)
class Window:
    """A stretch of one segment sent to the model on its own.

    ``start`` and ``end`` are sample offsets in the segment; of the window's output frames, those
    in ``[keep_start, keep_end)`` (local indices; ``keep_end=None``: to the last) are kept.
    """

    start: int
    end: int
    keep_start: int
    keep_end: int | None


@dataclass(frozen=True)
class Piece:
    """One model input: a window of segment ``key``'s samples."""

    key: int
    index: int
    window: Window
    samples: np.ndarray

    @property
    def length(self) -> int:
        return len(self.samples)


def plan_windows(n: int, chunk: int, stride: int, frame_samples: int) -> list[Window]:
    """Overlapping windows over ``n`` samples, like the transformers ASR pipeline's stride.

    Windows are ``chunk`` samples long and overlap by ``2 * stride``; each window keeps its
    frames but for ``stride`` samples' worth at the inner edges (none at the segment's own
    ends), so consecutive windows hand over in the middle of their overlap. ``chunk`` and
    ``stride`` must be multiples of ``frame_samples``.
    """
    if chunk % frame_samples or stride % frame_samples:
        raise ValueError("chunk and stride must be whole frames")
    step = chunk - 2 * stride
    if step <= 0:
        raise ValueError("chunk must be longer than twice the stride")
    if n <= chunk:
        return [Window(0, n, 0, None)]
    margin = stride // frame_samples
    windows = []
    start = 0
    while True:
        end = min(start + chunk, n)
        last = end >= n
        windows.append(
            Window(
                start,
                end,
                0 if start == 0 else margin,
                None if last else (chunk - stride) // frame_samples,
            )
        )
        if last:
            return windows
        start += step


def stitch(window_log_probs: Sequence[tuple[Window, np.ndarray]]) -> np.ndarray:
    """One segment's log-probabilities from its windows' (in order)."""
    import numpy as np

    kept = [lp[w.keep_start : w.keep_end] for w, lp in window_log_probs]
    return kept[0] if len(kept) == 1 else np.concatenate(kept)


def pack_batches(pieces: Iterable[Piece], budget: int) -> Iterator[list[Piece]]:
    """Longest first, batches whose padded size (count x longest) stays within ``budget``
    samples; a piece longer than the budget goes alone."""
    batch: list[Piece] = []
    for piece in sorted(pieces, key=lambda p: p.length, reverse=True):
        if batch and (len(batch) + 1) * batch[0].length > budget:
            yield batch
            batch = []
        batch.append(piece)
    if batch:
        yield batch


def segment_span(segment: Segment) -> tuple[int, int]:
    """A segment's sample range in its source."""
    return round(segment.start * SAMPLE_RATE), round(segment.end * SAMPLE_RATE)


def read_segments(
    audio: Audio,
    segments: Sequence[tuple[int, Segment]],
    channel: int | None,
    block_s: float = 30.0,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(key, samples)`` for segments of one channel, streaming the audio once.

    ``segments`` must be sorted by start. Only the audio from the current segment's start on
    is held, so memory stays bounded by the longest segment plus a block.
    """
    import numpy as np

    if not segments:
        return
    spans = [(key, *segment_span(s)) for key, s in segments]
    last = max(end for _, _, end in spans)
    blocks = audio.blocks(
        block_s, start=spans[0][1] / SAMPLE_RATE, end=last / SAMPLE_RATE, channel=channel
    )
    buffer = np.zeros(0, dtype=np.float32)
    buffer_start: int | None = None
    exhausted = False
    for i, (key, start, end) in enumerate(spans):
        parts = [buffer]
        size = len(buffer)
        while (buffer_start is None or buffer_start + size < end) and not exhausted:
            block = next(blocks, None)
            if block is None:
                exhausted = True
                break
            time, samples = block
            if buffer_start is None:
                buffer_start = round(time * SAMPLE_RATE)
            if size == 0 and buffer_start + len(samples) <= start:
                buffer_start += len(samples)  # audio before this segment: not kept
                continue
            parts.append(np.asarray(samples, dtype=np.float32))
            size += len(samples)
        buffer = np.concatenate(parts) if len(parts) > 1 else buffer
        origin = start if buffer_start is None else buffer_start
        lo = min(max(0, start - origin), size)
        hi = min(max(lo, end - origin), size)
        yield key, buffer[lo:hi].copy()
        next_start = spans[i + 1][1] if i + 1 < len(spans) else end
        drop = min(max(0, next_start - origin), size)
        buffer = buffer[drop:]
        buffer_start = origin + drop
