"""Where windows lie, and how speaker labels on a timeline split segments.

A *timeline* is a list of ``(start, end, label)`` spans in time order. Sliding windows become a
timeline by giving each window the time around its centre (hop-wide); pyannote's output is one
already. A segment with words is split between words only: each word takes the label that covers
most of it, and each change of speaker moves to the longest pause between words near the change
point. A segment without words (``diarize`` placed before ``ctc``) is split at the change points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..types import Segment, Word

__all__ = ["Span", "split_segment", "timeline", "windows"]

Span = tuple[float, float, int]
"""``(start, end, label)``."""


def windows(start: float, end: float, window_s: float, hop_s: float) -> list[tuple[float, float]]:
    """Windows of ``window_s`` every ``hop_s`` over ``start..end``; the last one ends at ``end``.

    >>> windows(0.0, 3.0, 1.5, 0.75)
    [(0.0, 1.5), (0.75, 2.25), (1.5, 3.0)]
    >>> windows(1.0, 1.8, 1.5, 0.75)
    [(1.0, 1.8)]
    """
    if end - start <= window_s:
        return [(start, end)] if end > start else []
    count = max(1, round((end - start - window_s) / hop_s + 0.5 - 1e-9)) + 1
    starts = [start + i * hop_s for i in range(count - 1)] + [end - window_s]
    return [(round(s, 3), round(s + window_s, 3)) for s in sorted(set(starts))]


def timeline(
    spans: Sequence[tuple[float, float]], labels: Sequence[int], start: float, end: float
) -> list[Span]:
    """Labelled windows of one segment as a timeline covering ``start..end``: each window owns
    the time from the midpoint with the previous window's centre to the next one's.

    >>> timeline([(0.0, 1.5), (0.75, 2.25), (1.5, 3.0)], [0, 0, 1], 0.0, 3.0)
    [(0.0, 1.875, 0), (1.875, 3.0, 1)]
    """
    centres = [(a + b) / 2 for a, b in spans]
    bounds = [start] + [(x + y) / 2 for x, y in zip(centres, centres[1:], strict=False)] + [end]
    result: list[Span] = []
    for i, label in enumerate(labels):
        a, b = round(bounds[i], 3), round(bounds[i + 1], 3)
        if result and result[-1][2] == label:
            result[-1] = (result[-1][0], b, label)
        elif b > a:
            result.append((a, b, label))
    return result


def split_segment(segment: Segment, spans: Sequence[Span], tolerance_s: float) -> list[Segment]:
    """``segment`` cut where the speaker changes, each piece with its label as ``speaker``
    (``str(label)``; names come later). Words are never cut; a cut moves to the longest pause
    between words within ``tolerance_s`` of the change point."""
    spans = [s for s in spans if s[1] > segment.start and s[0] < segment.end] or list(spans[-1:])
    if not spans:
        return [segment]
    if not segment.words:
        return [
            replace(segment, start=max(a, segment.start), end=min(b, segment.end), speaker=str(x))
            for a, b, x in spans
        ]
    words = segment.words
    labels = [_label_of(w, spans) for w in words]
    for i in range(1, len(words)):
        if labels[i] != labels[i - 1]:
            change = _change_near(words[i - 1], words[i], spans)
            _move_cut(words, labels, i, change, tolerance_s)
    pieces: list[Segment] = []
    first = 0
    for i in range(1, len(words) + 1):
        if i == len(words) or labels[i] != labels[first]:
            start = segment.start if first == 0 else words[first].start
            end = segment.end if i == len(words) else words[i - 1].end
            pieces.append(
                replace(
                    segment, start=start, end=end, words=words[first:i], speaker=str(labels[first])
                )
            )
            first = i
    return pieces


def _label_of(word: Word, spans: Sequence[Span]) -> int:
    """The label covering most of the word (the nearest one for a word outside every span)."""
    best, overlap = None, 0.0
    for a, b, label in spans:
        covered = min(b, word.end) - max(a, word.start)
        if covered > overlap:
            best, overlap = label, covered
    if best is not None:
        return best
    middle = (word.start + word.end) / 2
    return min(spans, key=lambda s: max(s[0] - middle, middle - s[1], 0.0))[2]


def _change_near(left: Word, right: Word, spans: Sequence[Span]) -> float:
    """The timeline's change point nearest the pause between two words."""
    pause = (left.end + right.start) / 2
    changes = [b for (_, b, x), (_, _, y) in zip(spans, spans[1:], strict=False) if x != y]
    return min(changes, key=lambda t: abs(t - pause)) if changes else pause


def _move_cut(
    words: Sequence[Word], labels: list[int], cut: int, change: float, tolerance_s: float
) -> None:
    """Move the cut before word ``cut`` to the longest pause within ``tolerance_s`` of
    ``change``, staying between the neighbouring cuts; relabel the words it passes."""
    low = cut - 1
    while low > 0 and labels[low - 1] == labels[cut - 1]:
        low -= 1
    high = cut
    while high + 1 < len(words) and labels[high + 1] == labels[cut]:
        high += 1
    candidates = [
        j
        for j in range(low + 1, high + 1)
        if max(words[j - 1].end - change, change - words[j].start, 0.0) <= tolerance_s
    ]
    if not candidates:
        return
    best = max(candidates, key=lambda j: (words[j].start - words[j - 1].end, -abs(j - cut)))
    before, after = labels[cut - 1], labels[cut]
    for j in range(low, high + 1):
        labels[j] = before if j < best else after
