"""Cutting a transcript into clips: utterances within duration bounds, split only between words.

Words are grouped per speaker (or channel) in time order. A pause of ``pause_s`` or more between
two words ends an utterance; an utterance longer than ``max_duration`` is split again at its
longest pause, until every part fits; one shorter than ``min_duration`` joins a neighbour across
a pause under ``join_s`` when the two still fit, and is left out otherwise. A clip reaches
``pad_s`` beyond its first and last word, but never past the middle of the pause to the next word,
so no clip holds part of a word it does not transcribe; the bounds hold for the padded clip.

>>> from asr_pipeline import Segment, Transcript, Word
>>> words = [Word("раз", 0.5, 1.0, 0.9), Word("два", 1.1, 1.8, 0.8), Word("три", 4.0, 4.6, 0.7)]
>>> cutting = cut_clips(Transcript((Segment(0.5, 4.6, tuple(words)),), "talk.wav", 6.0), "talk")
>>> [(c.name, c.text, c.start, c.end, c.confidence) for c in cutting.clips]
[('talk_00001', 'раз два', 0.3, 2.0, 0.8)]
>>> cutting.too_short  # "три" is alone, 0.6 s long, 2.2 s away from the rest
1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..types import Transcript, Word, confidence

__all__ = ["Clip", "Cutting", "cut_clips"]

PAUSE_S = 0.5
"""A pause at least this long between two words ends an utterance."""
JOIN_S = 1.5
"""A short utterance joins its neighbour across a pause up to this long."""
PAD_S = 0.2
"""Audio kept before the first word and after the last one (at most half the pause)."""


@dataclass(frozen=True, slots=True)
class Clip:
    """One utterance cut out of a source: its span there, its words and who spoke."""

    name: str
    """``<source stem>_<nnnnn>``, numbered in time order from 1."""
    start: float
    end: float
    words: tuple[Word, ...]
    speaker: str | None = None
    channel: int | None = None

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def confidence(self) -> float | None:
        """The words' confidence (:func:`asr_pipeline.types.confidence`)."""
        return confidence(self.words)


@dataclass
class Cutting:
    """The clips of one source and the utterances that fitted no clip."""

    clips: list[Clip] = field(default_factory=list)
    too_short: int = 0
    too_long: int = 0


def cut_clips(
    transcript: Transcript,
    stem: str,
    *,
    min_duration: float = 1.0,
    max_duration: float = 20.0,
    pause_s: float = PAUSE_S,
    join_s: float = JOIN_S,
    pad_s: float = PAD_S,
) -> Cutting:
    """Clips of ``transcript`` named ``<stem>_<nnnnn>`` (see the module's description)."""
    if not 0 <= min_duration < max_duration:
        raise ValueError(
            f"expected 0 <= min_duration < max_duration, got {min_duration} and {max_duration}"
        )
    pad_s = min(pad_s, max_duration / 4)
    longest = max_duration - 2 * pad_s
    cutting = Cutting()
    found: list[tuple[list[Word], str | None, int | None]] = []
    groups: dict[tuple[str | None, int | None], list[Word]] = {}
    for segment in transcript.segments:
        groups.setdefault((segment.speaker, segment.channel), []).extend(
            w for w in segment.words if w.text.strip()
        )
    for (speaker, channel), words in groups.items():
        words.sort(key=lambda w: (w.start, w.end))
        fitted: list[list[Word]] = []
        for run in _utterances(words, pause_s):
            fitted += _fit(run, longest, cutting)
        for run in _join(fitted, min_duration, longest, join_s, cutting):
            found.append((run, speaker, channel))
    found.sort(key=lambda item: item[0][0].start)
    end_of_audio = transcript.duration
    for number, (run, speaker, channel) in enumerate(found, 1):
        neighbours = groups[(speaker, channel)]
        start, end = _padded(run, neighbours, pad_s, end_of_audio)
        name = f"{stem}_{number:05d}"
        cutting.clips.append(Clip(name, start, end, tuple(run), speaker, channel))
    return cutting


def _utterances(words: list[Word], pause_s: float) -> list[list[Word]]:
    """Runs of words with no pause of ``pause_s`` or more inside."""
    runs: list[list[Word]] = []
    for word in words:
        if runs and word.start - runs[-1][-1].end < pause_s:
            runs[-1].append(word)
        else:
            runs.append([word])
    return runs


def _length(run: Sequence[Word]) -> float:
    return run[-1].end - run[0].start


def _fit(run: list[Word], max_duration: float, cutting: Cutting) -> list[list[Word]]:
    """``run`` split at its longest pauses until every part is at most ``max_duration``."""
    if _length(run) <= max_duration:
        return [run]
    if len(run) == 1:
        cutting.too_long += 1
        return []
    # the longest pause; of equal ones, the nearest the middle
    pauses = [
        (round(b.start - a.end, 3), -abs(i + 1 - len(run) / 2), i + 1)
        for i, (a, b) in enumerate(zip(run, run[1:], strict=False))
    ]
    cut = max(pauses)[2]
    return _fit(run[:cut], max_duration, cutting) + _fit(run[cut:], max_duration, cutting)


def _join(
    runs: list[list[Word]],
    min_duration: float,
    max_duration: float,
    join_s: float,
    cutting: Cutting,
) -> list[list[Word]]:
    """Short runs joined to the neighbour across the shorter pause; the rest left out."""
    runs = [list(r) for r in runs]
    index = 0
    while index < len(runs):
        run = runs[index]
        if _length(run) >= min_duration:
            index += 1
            continue
        options = []
        if index > 0:
            options.append((run[0].start - runs[index - 1][-1].end, index - 1))
        if index + 1 < len(runs):
            options.append((runs[index + 1][0].start - run[-1].end, index + 1))
        joined = False
        for gap, other in sorted(options):
            first, second = sorted((index, other))
            together = runs[first] + runs[second]
            if gap <= join_s and _length(together) <= max_duration:
                runs[first : second + 1] = [together]
                index = first
                joined = True
                break
        if not joined:
            cutting.too_short += 1
            del runs[index]
    return runs


def _padded(
    run: Sequence[Word], neighbours: Sequence[Word], pad_s: float, end_of_audio: float | None
) -> tuple[float, float]:
    """The clip's span: ``pad_s`` around the words, at most half way to the next word."""
    before = max((w.end for w in neighbours if w.end <= run[0].start), default=None)
    after = min((w.start for w in neighbours if w.start >= run[-1].end), default=None)
    start = run[0].start - pad_s
    if before is not None:
        start = max(start, (before + run[0].start) / 2)
    end = run[-1].end + pad_s
    if after is not None:
        end = min(end, (run[-1].end + after) / 2)
    if end_of_audio is not None:
        end = min(end, end_of_audio)
    return round(max(0.0, start), 3), round(end, 3)
