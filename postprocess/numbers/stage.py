"""The ``numbers`` stage and ``normalize_numbers``: one engine for words and for text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from asr_pipeline.errors import ConfigError
from asr_pipeline.types import Segment, Transcript, Word

from .engine import STYLES, Span, find_spans

__all__ = ["NumbersStage", "normalize_numbers", "rewrite"]


def _check_style(style: str) -> None:
    if style not in STYLES:
        raise ConfigError(
            f"unknown number style {style!r}; use one of: {', '.join(STYLES)}",
            "stages.numbers.style",
        )


def rewrite(words: Sequence[str], style: str = "editorial") -> list[Span]:
    """The spans of ``words`` to replace (``start``, ``end``, written ``text``), in order."""
    _check_style(style)
    return find_spans(words, style)


def normalize_numbers(text: str, *, style: str = "editorial") -> str:
    """Spoken Russian numbers to digits: ``"двадцать пятого мая"`` -> ``"25 мая"``.

    ``style="editorial"`` follows the house conventions (small numbers stay words in running
    text); ``style="digits"`` writes every number as digits.
    """
    words = text.split()
    out: list[str] = []
    position = 0
    for span in rewrite(words, style):
        out.extend(words[position : span.start])
        out.append(span.text)
        position = span.end
    out.extend(words[position:])
    return " ".join(out)


class NumbersStage:
    """Write spoken numbers as digits, merging their words into one timed word.

    Options:
        style: "editorial" (house conventions, small numbers stay words) or "digits" (every
            number as digits, ordinals with their endings).
    """

    def __init__(self, *, style: Literal["editorial", "digits"] = "editorial") -> None:
        _check_style(style)
        self.style = style

    def __call__(self, transcript: Transcript) -> Transcript:
        return transcript.map_segments(self._segment)

    def _segment(self, segment: Segment) -> Segment:
        words = segment.words
        if not words:
            return segment
        changes = rewrite([w.text for w in words], self.style)
        if not changes:
            return segment
        out: list[Word] = []
        position = 0
        for span in changes:
            out.extend(words[position : span.start])
            run = words[span.start : span.end]
            single = len(run) == 1
            out.append(replace(run[0], text=span.text) if single else Word.merge(run, span.text))
            position = span.end
        out.extend(words[position:])
        return replace(segment, words=tuple(out))
