"""Subtitle formats: SubRip (SRT) and WebVTT, with cues built from word timings.

A cue holds words of one segment (so of one speaker). It ends at a sentence end, or before it
would outgrow its lines or ``max_duration``; a sentence too long for one cue is cut after a comma,
semicolon, colon or dash where one is in reach. Two-line cues are balanced, breaking after
punctuation where that costs little. A short cue stays on screen for ``min_duration`` seconds where
the next cue leaves room; cues of one speaker never overlap (cues of two speakers talking at once
do).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Annotated, TextIO

from ..config import Range
from ..reading import CLOSING, ends_sentence
from ..types import Transcript, Word

__all__ = ["Cue", "SrtWriter", "VttWriter", "build_cues", "format_timestamp"]

_CLAUSE_END = (",", ";", ":", "—", "–")
_PUNCTUATION_BONUS = 8
"""Characters of line balance that a line break after punctuation is worth."""
_CONJUNCTIONS = frozenset("и а но или либо что чтобы потому если когда как где который".split())
_PREPOSITIONS = frozenset("в во на с со к ко у о об от до по за из без для при под над про".split())


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle: its span, its text lines and its speaker (when known)."""

    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None


def format_timestamp(seconds: float, decimal_marker: str = ",") -> str:
    """``HH:MM:SS,mmm`` (SRT) or, with ``"."``, ``HH:MM:SS.mmm`` (WebVTT).

    >>> format_timestamp(3723.4567)
    '01:02:03,457'
    >>> format_timestamp(0.5, ".")
    '00:00:00.500'
    """
    total_ms = max(0, round(seconds * 1000))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_marker}{ms:03d}"


def _ends_clause(text: str) -> bool:
    return text.rstrip(CLOSING).endswith(_CLAUSE_END) or ends_sentence(text)


def build_cues(
    transcript: Transcript,
    *,
    max_line_chars: int = 42,
    max_lines: int = 2,
    max_duration: float = 7.0,
    min_duration: float = 0.0,
) -> list[Cue]:
    """Cues in time order (see the module's description). A single word longer than a line gets
    a line of its own; a single word longer than ``max_duration`` a cue of its own."""
    limits = _Limits(max_line_chars, max_lines, max_duration)
    cues: list[Cue] = []
    for segment in sorted((s for s in transcript.segments if s.words), key=lambda s: s.start):
        words = [replace(w, text=" ".join(w.text.split())) for w in segment.words if w.text.strip()]
        for run in limits.runs(words):
            start = run[0].start
            end = max(start, max(w.end for w in run))
            cues.append(Cue(start, end, limits.lines([w.text for w in run]), segment.speaker))
    cues.sort(key=lambda c: c.start)
    return _retime(cues, min(min_duration, max_duration), transcript.duration)


@dataclass(frozen=True, slots=True)
class _Limits:
    max_line_chars: int
    max_lines: int
    max_duration: float

    def runs(self, words: Sequence[Word]) -> list[Sequence[Word]]:
        """Words cut into cue-sized runs."""
        runs = []
        first = 0
        while first < len(words):
            stop = first + 1
            while (
                stop < len(words)
                and not ends_sentence(words[stop - 1].text)
                and self.fits(words[first : stop + 1])
            ):
                stop += 1
            if stop < len(words) and not ends_sentence(words[stop - 1].text):
                stop = self._clause_break(words, first, stop)
            runs.append(words[first:stop])
            first = stop
        return runs

    def fits(self, words: Sequence[Word]) -> bool:
        if len(words) > 1 and words[-1].end - words[0].start > self.max_duration:
            return False
        return len(self._greedy([w.text for w in words])) <= self.max_lines

    def _clause_break(self, words: Sequence[Word], first: int, stop: int) -> int:
        """The last clause end in ``words[first:stop]`` that keeps a third of a cue's room."""
        room = self.max_line_chars * self.max_lines / 3
        for end in range(stop - 1, first, -1):
            if _ends_clause(words[end - 1].text):
                if len(" ".join(w.text for w in words[first:end])) >= room:
                    return end
                break
        return stop

    def lines(self, texts: Sequence[str]) -> tuple[str, ...]:
        """Texts laid out in lines: balanced when they take two lines, else filled greedily."""
        greedy = self._greedy(texts)
        if len(greedy) != 2:
            return tuple(" ".join(line) for line in greedy)
        best: tuple[float, float, int] | None = None
        for cut in range(1, len(texts)):
            top, bottom = " ".join(texts[:cut]), " ".join(texts[cut:])
            if not all(len(t) <= self.max_line_chars or " " not in t for t in (top, bottom)):
                continue
            bonus = _break_bonus(texts[cut - 1], texts[cut])
            score = (max(len(top), len(bottom)) - bonus, -bonus, cut)
            best = score if best is None or score < best else best
        assert best is not None  # the greedy cut is always allowed
        cut = best[2]
        return (" ".join(texts[:cut]), " ".join(texts[cut:]))

    def _greedy(self, texts: Sequence[str]) -> list[list[str]]:
        lines: list[list[str]] = [[]]
        for text in texts:
            if lines[-1] and len(" ".join([*lines[-1], text])) > self.max_line_chars:
                lines.append([])
            lines[-1].append(text)
        return lines


def _break_bonus(before: str, after: str) -> float:
    """How good a line break between two words is, in characters of balance: good after
    punctuation or before a conjunction, bad after a preposition or conjunction."""
    if _ends_clause(before):
        return _PUNCTUATION_BONUS
    last = before.strip(CLOSING).lower()
    if last in _PREPOSITIONS or last in _CONJUNCTIONS:
        return -_PUNCTUATION_BONUS
    if after.lower() in _CONJUNCTIONS:
        return _PUNCTUATION_BONUS / 2
    return 0


def _retime(cues: list[Cue], min_duration: float, duration: float | None) -> list[Cue]:
    """Cut each cue off at its speaker's next cue; lengthen short ones up to ``min_duration``
    where there is room (up to the next cue of anyone and the end of the audio)."""
    result = list(cues)
    following: dict[str | None, float] = {}
    next_start: float | None = None
    for index in range(len(result) - 1, -1, -1):
        cue = result[index]
        end = cue.start + min_duration
        for limit in (next_start, duration or None):
            if limit is not None:
                end = min(end, limit)
        end = max(end, cue.end)
        own = following.get(cue.speaker)
        if own is not None:
            end = max(cue.start, min(end, own))
        result[index] = replace(cue, end=end)
        following[cue.speaker] = cue.start
        next_start = cue.start if next_start is None else min(next_start, cue.start)
    return result


class _SubtitleWriter:
    """Cues built from the words, shared by srt and vtt.

    Options:
        max_line_chars: the most characters on one subtitle line.
        max_lines: the most lines in one cue.
        max_duration: the longest a cue may stay on screen, in seconds.
        min_duration: a shorter cue stays this long (seconds) where the next cue leaves room;
            0 keeps the words' own times.
    """

    extension = ""
    binary = False

    def __init__(
        self,
        *,
        max_line_chars: Annotated[int, Range(ge=1)] = 42,
        max_lines: Annotated[int, Range(ge=1)] = 2,
        max_duration: Annotated[float, Range(gt=0)] = 7.0,
        min_duration: Annotated[float, Range(ge=0)] = 1.0,
    ) -> None:
        self.max_line_chars = max_line_chars
        self.max_lines = max_lines
        self.max_duration = max_duration
        self.min_duration = min_duration

    def cues(self, transcript: Transcript) -> list[Cue]:
        return build_cues(
            transcript,
            max_line_chars=self.max_line_chars,
            max_lines=self.max_lines,
            max_duration=self.max_duration,
            min_duration=self.min_duration,
        )


class SrtWriter(_SubtitleWriter):
    """SubRip subtitles (.srt): numbered cues timed from the words."""

    extension = "srt"

    def write(self, transcript: Transcript, fp: TextIO, /) -> None:
        fp.write("".join(_srt_blocks(self.cues(transcript))))


class VttWriter(_SubtitleWriter):
    """WebVTT subtitles (.vtt) for browsers and video players; speakers as <v Name> voices."""

    extension = "vtt"

    def write(self, transcript: Transcript, fp: TextIO, /) -> None:
        fp.write("WEBVTT\n")
        for cue in self.cues(transcript):
            span = f"{format_timestamp(cue.start, '.')} --> {format_timestamp(cue.end, '.')}"
            lines = [_vtt_escape(line) for line in cue.lines]
            if cue.speaker:
                lines[0] = f"<v {_vtt_escape(cue.speaker)}>{lines[0]}"
            fp.write(f"\n{span}\n" + "\n".join(lines) + "\n")


def _srt_blocks(cues: Iterable[Cue]) -> Iterable[str]:
    for number, cue in enumerate(cues, 1):
        span = f"{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}"
        yield f"{number}\n{span}\n" + "\n".join(cue.lines) + "\n\n"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
