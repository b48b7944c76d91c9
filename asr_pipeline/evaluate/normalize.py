"""Scoring normalisation: both sides of a comparison brought to one written form.

>>> Normalization()("Ему было Сорок два года, всё ещё.")
'ему было 42 года все еще'
>>> Normalization(numbers=False, punctuation=False)("Двенадцать.")
'двенадцать.'
>>> Normalization()("за\u0301мок") == Normalization()("замок")
True
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Normalization", "unify_unicode"]

_WORD_JOINERS = frozenset("-‐‑'’")
"""Hyphens and apostrophes kept between two letters or digits (``кто-то``, ``2-й``)."""
_DIGIT_JOINERS = frozenset(",.:")
"""Kept between two digits (``3,2``, ``9:30``, ``12.12.2006``)."""
_PERCENT = re.compile(r"(\d)\s*%")
_PERCENT_WORD = re.compile(r"(\d) процент[а-я]*(?![\w-])")
_DIGIT_GROUPS = re.compile(r"(?<![\d,.:])\d{1,3}(?: \d{3})+(?![\d,.:])")
_ORDINAL_ENDING = re.compile(r"(?<=\d)-[а-я]{1,3}(?![\w-])")
_STRESS_MARKS = frozenset("\u0301\u0300")
"""Combining acute and grave accents: stress marks in Russian text (``за́мок``)."""
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
"""Soft hyphen, zero-width space, non-joiner and joiner, word joiner, byte-order mark."""


@dataclass(frozen=True)
class Normalization:
    """How texts are normalised before scoring; every step applies to both sides alike.

    Always: Unicode NFC (a decomposed ``й`` is ``й``), stress marks removed (``за́мок`` is
    ``замок``), soft hyphens and zero-width characters removed, and whitespace collapsed (any
    run of spaces, tabs, non-breaking spaces, line breaks becomes one space).

    Options:
        lowercase: compare in lower case.
        yo: write ``ё`` as ``е``.
        punctuation: strip punctuation, keeping hyphens and apostrophes inside words and
            ``,``, ``.``, ``:`` between digits.
        numbers: spoken numbers as digits with the numbers stage (style ``digits``), then one
            form for what it leaves apart: digit groups joined (``25 000`` -> ``25000``),
            ordinal endings dropped (``2-й`` -> ``2``), ``%`` and ``процентов`` after a
            number written ``%``.
    """

    lowercase: bool = True
    yo: bool = True
    punctuation: bool = True
    numbers: bool = True

    def __call__(self, text: str) -> str:
        """``text`` normalised for scoring."""
        text = unify_unicode(text)
        if self.lowercase:
            text = text.lower()
        if self.yo:
            text = text.replace("ё", "е").replace("Ё", "Е")
        if self.punctuation:
            text = strip_punctuation(text)
        if self.numbers:
            text = unify_numbers(text)
            if self.punctuation:
                text = strip_punctuation(text)
        return " ".join(text.split())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def unify_unicode(text: str) -> str:
    """One code point sequence for one written text: NFC, without stress marks, soft hyphens
    or zero-width characters.

    Letters are composed first, so that only the stress marks go: ``й`` (``и`` + breve) and
    ``ё`` (``е`` + diaeresis) keep their marks.

    >>> unify_unicode("и\u0306ога за\u0301мок по\u00adлу\u200bчит") == "йога замок получит"
    True
    """
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    decomposed = unicodedata.normalize("NFD", text)
    if not any(mark in decomposed for mark in _STRESS_MARKS):
        return text
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _STRESS_MARKS))


def strip_punctuation(text: str) -> str:
    """Every Unicode punctuation mark as a space, but for marks inside words and numbers
    (see :class:`Normalization`) and ``%``, which stands for a word."""
    out = []
    for i, char in enumerate(text):
        if char != "%" and unicodedata.category(char).startswith("P"):
            before = text[i - 1] if i else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            inside_word = char in _WORD_JOINERS and before.isalnum() and after.isalnum()
            inside_number = char in _DIGIT_JOINERS and before.isdigit() and after.isdigit()
            if not (inside_word or inside_number):
                char = " "
        out.append(char)
    return "".join(out)


def unify_numbers(text: str) -> str:
    """Numbers in one form: the numbers stage's ``digits`` style plus the steps above."""
    from postprocess.numbers import normalize_numbers

    text = normalize_numbers(" ".join(text.split()), style="digits")
    text = _PERCENT.sub(r"\1 %", text)
    text = _PERCENT_WORD.sub(r"\1 %", text)
    text = _DIGIT_GROUPS.sub(lambda m: m.group().replace(" ", ""), text)
    return _ORDINAL_ENDING.sub("", text)
