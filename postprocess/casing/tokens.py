"""Words as the casing stage sees them: punctuation around a core, sentence ends, abbreviations."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Token", "apply_case", "split_token"]

_CORE = re.compile(r"^(\W*?)(\w(?:[\w\u0300-\u036f'’.-]*[\w\u0300-\u036f])?)(\W*)$")
_MARKS = re.compile(r"[\u0300-\u036f]")
_CLOSERS = "»\"'”’)]}"
_DASHES = frozenset({"-", "--", "—", "–", "---"})

ABBREVIATIONS = frozenset(
    """
    г гг в вв т д п е к н э др пр см ср стр ул им млн млрд тыс руб коп ок обл р ст с чел кв км
    м кг мин сек ч проф акад ген св пос дер просп пер наб пл рис табл гл ред изд тел англ
    фр нем лат греч род ум мл ж муж жен напр прим доп экз вып кн ш долл дол тт сокр
    """.split()
)
"""Words that end with a period without ending the sentence (``1905 г.``, ``см. ниже``)."""

CLOSING_ABBREVIATIONS = frozenset({("т", "д"), ("т", "п"), ("и", "др"), ("и", "пр")})
"""Two-word abbreviations that close a list and, with nothing after them, a sentence."""


@dataclass(frozen=True, slots=True)
class Token:
    """A word split into leading punctuation, a core of letters/digits, trailing punctuation."""

    prefix: str
    core: str
    suffix: str

    @property
    def text(self) -> str:
        return self.prefix + self.core + self.suffix

    @property
    def lower(self) -> str:
        return self.core.lower()

    @property
    def key(self) -> str:
        """The lowercase core without stress marks (``пяти́на`` -> ``пятина``), for analysis."""
        return _MARKS.sub("", self.core.lower())

    @property
    def has_letters(self) -> bool:
        return any(c.isalpha() for c in self.core)

    @property
    def has_capitals(self) -> bool:
        return any(c.isupper() for c in self.core)

    @property
    def is_dash(self) -> bool:
        return not self.core and self.prefix in _DASHES

    @property
    def final_mark(self) -> str:
        """The sentence-ending mark this token closes with: ``.``, ``?``, ``!``, ``…`` or ``""``."""
        tail = (self.prefix if not self.core else self.suffix).rstrip(_CLOSERS)
        if not tail:
            return ""
        if tail.endswith(("...", "…")):
            return "…"
        return tail[-1] if tail[-1] in ".?!" else ""

    @property
    def opens_quote(self) -> bool:
        return "«" in self.prefix or "„" in self.prefix or "“" in self.prefix


def split_token(text: str) -> Token:
    """Split ``«москва»,`` into ``«``, ``москва``, ``»,``; a token without letters is all prefix."""
    match = _CORE.match(text)
    if match is None:
        return Token(text, "", "")
    return Token(*match.groups())


def apply_case(word: str, pattern: str) -> str:
    """Case a lowercase word like ``pattern``: ``"title"``, ``"upper"``, or a written form.

    A written form (``iPhone``, ``Газпром``) is copied letter by letter over the common length,
    so inflected forms keep their endings: ``газпрома`` with ``Газпром`` gives ``Газпрома``.
    """
    if pattern == "title":
        return _title(word)
    if pattern == "upper":
        return word.upper()
    if pattern == "lower":
        return word.lower()
    cased = [p if p.lower() == w.lower() else w for w, p in zip(word, pattern, strict=False)]
    return "".join(cased) + word[len(pattern) :]


def _title(word: str) -> str:
    for i, char in enumerate(word):
        if char.isalpha():
            return word[:i] + char.upper() + word[i + 1 :]
    return word
