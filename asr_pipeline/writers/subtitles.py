"""Subtitle formats: SubRip (SRT) and WebVTT, with cues built from word timings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from ..types import Transcript, Word

__all__ = ["Cue", "SrtWriter", "VttWriter", "build_cues", "format_timestamp"]

_SENTENCE_END = (".", "!", "?", "…")
_CLOSING = "»\"”')]"


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


def _ends_sentence(text: str) -> bool:
    return text.rstrip(_CLOSING).endswith(_SENTENCE_END)


def build_cues(
    transcript: Transcript,
    *,
    max_line_chars: int = 42,
    max_lines: int = 2,
    max_duration: float = 7.0,
) -> list[Cue]:
    """Cues in time order: words fill lines of ``max_line_chars``; a cue ends at a sentence end,
    when its lines are full, or before it would last longer than ``max_duration`` seconds.

    A segment never shares a cue with another segment. A single word longer than a line gets a
    line of its own.
    """
    cues: list[Cue] = []
    for segment in sorted((s for s in transcript.segments if s.words), key=lambda s: s.start):
        words: list[Word] = []
        lines: list[list[str]] = [[]]
        for word in segment.words:
            text = " ".join(word.text.split())
            if not text:
                continue
            if words:
                fits_line = len(" ".join([*lines[-1], text])) <= max_line_chars
                if (
                    word.end - words[0].start > max_duration
                    or (not fits_line and len(lines) >= max_lines)
                    or _ends_sentence(words[-1].text)
                ):
                    cues.append(_cue(words, lines, segment.speaker))
                    words, lines = [], [[]]
                elif not fits_line:
                    lines.append([])
            lines[-1].append(text)
            words.append(word)
        if words:
            cues.append(_cue(words, lines, segment.speaker))
    cues.sort(key=lambda c: c.start)
    return cues


def _cue(words: list[Word], lines: list[list[str]], speaker: str | None) -> Cue:
    start = words[0].start
    end = max(start, max(w.end for w in words))
    return Cue(start, end, tuple(" ".join(line) for line in lines if line), speaker)


class _SubtitleWriter:
    extension = ""
    binary = False

    def __init__(
        self, *, max_line_chars: int = 42, max_lines: int = 2, max_duration: float = 7.0
    ) -> None:
        self.max_line_chars = max_line_chars
        self.max_lines = max_lines
        self.max_duration = max_duration

    def cues(self, transcript: Transcript) -> list[Cue]:
        return build_cues(
            transcript,
            max_line_chars=self.max_line_chars,
            max_lines=self.max_lines,
            max_duration=self.max_duration,
        )


class SrtWriter(_SubtitleWriter):
    """SubRip subtitles (.srt): numbered cues timed from the words.

    Options:
        max_line_chars: the most characters on one subtitle line.
        max_lines: the most lines in one cue.
        max_duration: the longest a cue may stay on screen, in seconds.
    """

    extension = "srt"

    def write(self, transcript: Transcript, fp: TextIO, /) -> None:
        fp.write("".join(_srt_blocks(self.cues(transcript))))


class VttWriter(_SubtitleWriter):
    """WebVTT subtitles (.vtt) for browsers and video players, timed from the words.

    Options:
        max_line_chars: the most characters on one subtitle line.
        max_lines: the most lines in one cue.
        max_duration: the longest a cue may stay on screen, in seconds.
    """

    extension = "vtt"

    def write(self, transcript: Transcript, fp: TextIO, /) -> None:
        fp.write("WEBVTT\n")
        for cue in self.cues(transcript):
            span = f"{format_timestamp(cue.start, '.')} --> {format_timestamp(cue.end, '.')}"
            fp.write(f"\n{span}\n" + "\n".join(_vtt_escape(line) for line in cue.lines) + "\n")


def _srt_blocks(cues: Iterable[Cue]) -> Iterable[str]:
    for number, cue in enumerate(cues, 1):
        span = f"{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}"
        yield f"{number}\n{span}\n" + "\n".join(cue.lines) + "\n\n"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
