"""Scoring the numbers stage on ``spoken<sep>written`` case files.

Two figures per file: exact matches, and value matches, where both sides carry the same numbers
in the same order once writing conventions are set aside (``12.12.2006`` and ``12 декабря 2006``,
``13:05`` and ``13 часов 5 минут``, ``3,2 млн`` and ``3200000``, ``XVII`` and ``17``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from .lexicon import MONTHS, fold

__all__ = ["Case", "Score", "numeric_values", "read_cases", "score_cases"]

_GROUPED = re.compile(r"\b\d{1,3}(?: \d{3})+\b(?![-:.,]\d| \d)")
_TOKEN = re.compile(
    r"(?P<number>(?:(?<![\w-])-)?(?<!\w)\d+(?:,\d+)?)"
    r"(?P<scale>\s*(?:млн|млрд|тыс|тысяч[а-я]*|миллион[а-я]*|миллиард[а-я]*)(?![а-я]))?"
    r"|(?P<roman>(?<![°\w])[IVXLC]+\b)|(?P<word>[^\W\d]+)"
)
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
_SCALES = {
    "млн": 10**6,
    "млрд": 10**9,
    "тыс": 1000,
    "тысяч": 1000,
    "миллион": 10**6,
    "миллиард": 10**9,
}


@dataclass(frozen=True, slots=True)
class Case:
    spoken: str
    written: str


@dataclass
class Score:
    total: int = 0
    exact: int = 0
    values: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)


def read_cases(path: str | Path, sep: str = "~") -> list[Case]:
    """Cases from a ``spoken<sep>written`` file; only the trailing newline is stripped."""
    cases = []
    for line in Path(path).read_text(encoding="utf-8").split("\n"):
        if not line or sep not in line:
            continue
        spoken, written = line.split(sep)[:2]
        cases.append(Case(spoken, written))
    return cases


def _roman_value(text: str) -> int:
    total = 0
    for a, b in zip(text, text[1:] + " ", strict=True):
        value = _ROMAN[a]
        total += -value if b != " " and _ROMAN[b] > value else value
    return total


def numeric_values(text: str) -> list[Decimal]:
    """The numbers a text states, in order, whatever the writing convention."""
    text = _GROUPED.sub(lambda m: m.group(0).replace(" ", ""), text)
    values: list[Decimal] = []
    after_number = False
    for match in _TOKEN.finditer(text):
        if match.group("number"):
            value = Decimal(match.group("number").replace(",", "."))
            scale = (match.group("scale") or "").strip()
            scale = next((s for s in _SCALES if scale.startswith(s)), "")
            values.append(value * _SCALES[scale] if scale else value)
            after_number = True
        elif match.group("roman"):
            values.append(Decimal(_roman_value(match.group("roman"))))
            after_number = True
        else:
            month = MONTHS.get(fold(match.group("word")))
            if month and after_number:
                values.append(Decimal(month))
            after_number = False
    return [v.normalize() for v in values]


def score_cases(cases: Iterable[Case], normalize: Callable[[str], str]) -> Score:
    """Exact and value matches of ``normalize`` over the cases."""
    score = Score()
    for case in cases:
        got = normalize(case.spoken)
        score.total += 1
        exact = got == case.written
        score.exact += exact
        score.values += exact or numeric_values(got) == numeric_values(case.written)
        if not exact:
            score.failures.append((case.spoken, case.written, got))
    return score
