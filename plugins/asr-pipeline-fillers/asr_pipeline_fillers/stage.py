"""The ``fillers`` stage: find hesitation sounds, then drop or mark them, keeping timings."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from asr_pipeline import ConfigError, Transcript, Word

__all__ = ["DEFAULT_FILLERS", "FillersStage", "filler_pattern"]

DEFAULT_FILLERS = ("э", "ээ", "эээ", "эм", "мм", "ммм", "м-м", "ну-у", "а-а")

_SENTENCE_END = ".!?…"
_CLOSING = '»”")]'
_OPENING = '«„“"(['
_WEAK = ",;:"
_PARTS = re.compile(r"(?P<lead>\W*)(?P<core>.*?)(?P<trail>\W*)", re.DOTALL)


def filler_pattern(words: Sequence[str], path: str = "stages.fillers.words") -> re.Pattern[str]:
    """One pattern matching any of ``words`` as a whole word, case-insensitively.

    Every letter may be stretched: ``э`` matches ``ээ`` and ``э-э-э``; a doubled letter needs
    at least two (``ну-у`` matches ``нууу`` but never the word ``ну``).
    """
    alternatives = []
    for index, word in enumerate(words):
        letters = [c for c in word.strip().lower() if c != "-"]
        if not letters:
            raise ConfigError(f"expected a hesitation sound, got {word!r}", f"{path}[{index}]")
        runs = ((re.escape(c), len(list(group))) for c, group in itertools.groupby(letters))
        alternatives.append("".join(f"{c}(?:-?{c}){{{n - 1},}}" for c, n in runs))
    if not alternatives:
        return re.compile(r"(?!)")
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)


class FillersStage:
    """Remove or mark Russian hesitation sounds (э, мм, ну-у), keeping word timings.

    Options:
        words: the sounds to find; a letter may be stretched (э finds э-э-э), and a doubled
            letter needs two or more (ну-у finds ну-у-у, never the word ну).
        extra: more sounds, added to words.
        mode: remove drops each sound (a sentence end it carried moves to the previous word,
            its capital to the next); mark rewrites it with the mark template.
        mark: the template for mode mark; {} stands for the sound, so "({})" writes (э).
    """

    def __init__(
        self,
        *,
        words: Sequence[str] = DEFAULT_FILLERS,
        extra: Sequence[str] = (),
        mode: Literal["remove", "mark"] = "remove",
        mark: str = "({})",
    ) -> None:
        if "{}" not in mark:
            raise ConfigError(
                f"must contain {{}} where the sound goes, got {mark!r}", "stages.fillers.mark"
            )
        self.pattern = filler_pattern([*words, *extra])
        self.mode = mode
        self.mark = mark

    def is_filler(self, text: str) -> bool:
        """Whether a word (with any punctuation around it) is a hesitation sound."""
        core = _PARTS.fullmatch(text)["core"]  # type: ignore[index]
        return bool(core) and self.pattern.fullmatch(core) is not None

    def __call__(self, transcript: Transcript) -> Transcript:
        words = [w for s in transcript.segments for w in s.words]
        if not any(self.is_filler(w.text) for w in words):
            return transcript
        kept = self._marked(words) if self.mode == "mark" else self._removed(words)
        it = iter(kept)
        return transcript.map_segments(
            lambda s: replace(
                s, words=tuple(w for w in itertools.islice(it, len(s.words)) if w is not None)
            )
        )

    def _marked(self, words: list[Word]) -> list[Word | None]:
        result: list[Word | None] = []
        for word in words:
            parts = _PARTS.fullmatch(word.text)
            if parts and parts["core"] and self.pattern.fullmatch(parts["core"]):
                text = parts["lead"] + self.mark.replace("{}", parts["core"]) + parts["trail"]
                word = replace(word, text=text)
            result.append(word)
        return result

    def _removed(self, words: list[Word]) -> list[Word | None]:
        """Drop the sounds; the marks and capitals they carried move to their neighbours."""
        result: list[Word | None] = list(words)
        previous: int | None = None  # index of the last kept word
        opening = ""  # opening quotes/brackets waiting for the next kept word
        capital = False  # a removed sound started a sentence: the next kept word takes a capital
        for index, word in enumerate(words):
            parts = _PARTS.fullmatch(word.text)
            core = parts["core"] if parts else ""
            if core and self.pattern.fullmatch(core):
                result[index] = None
                carried = "".join(c for c in parts["trail"] if c in _SENTENCE_END + _CLOSING)
                before = result[previous] if previous is not None else None
                if carried and before is not None:
                    result[previous] = replace(before, text=_attach(before.text, carried))
                opening += "".join(c for c in parts["lead"] if c in _OPENING)
                capital = capital or core[0].isupper()
                continue
            text = opening + word.text
            if capital:
                text = _capitalize(text)
            if text != word.text:
                result[index] = replace(word, text=text)
            previous, opening, capital = index, "", False
        return result


def _attach(text: str, marks: str) -> str:
    """``text`` followed by the marks a removed sound carried (a weaker mark gives way)."""
    base = text.rstrip(_WEAK)
    if base.rstrip(_CLOSING).endswith(tuple(_SENTENCE_END)):
        marks = "".join(c for c in marks if c in _CLOSING)
    return base + marks if marks else text


def _capitalize(text: str) -> str:
    for i, char in enumerate(text):
        if char.isalpha():
            return text[:i] + char.upper() + text[i + 1 :]
    return text
