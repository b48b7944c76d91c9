"""Label families of punctuation models and what each label does to a word.

Two families are understood, read from a model config's ``id2label``:

* ``plain`` (deepmultilingualpunctuation's models): ``0`` (nothing) and the mark itself,
  ``.`` ``,`` ``?`` ``-`` ``:`` (also ``!`` ``;``).
* ``case_punct`` (kontur-ai/sbert_punc_case_ru, RUPunct): ``CASE_PUNCT`` with case ``LOWER``,
  ``UPPER`` (first letter) or ``UPPER_TOTAL`` (every letter) and a mark name such as ``O``,
  ``PERIOD``, ``COMMA``, ``QUESTION``, ``TIRE``, ``DVOETOCHIE``, ``VOSKL``...
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from asr_pipeline.errors import ConfigError

__all__ = [
    "CASE_PUNCT_MARKS",
    "PLAIN_MARKS",
    "LabelScheme",
    "WordLabel",
    "labels_from_list",
    "parse_labels",
]

Case = Literal["lower", "upper", "upper_total"]

DASH = " —"
"""A dash between clauses: a space and an em dash after the word (``дом — большой``)."""

CASE_PUNCT_MARKS = {
    "O": "",
    "PERIOD": ".",
    "COMMA": ",",
    "QUESTION": "?",
    "VOSKL": "!",
    "DVOETOCHIE": ":",
    "PERIODCOMMA": ";",
    "MNOGOTOCHIE": "...",
    "QUESTIONVOSKL": "?!",
    "TIRE": DASH,
    "DEFIS": "-",
}
"""Mark names of the combined family (RUPunct's set; kontur-ai uses the first four)."""

PLAIN_MARKS = {
    "0": "",
    "O": "",
    ".": ".",
    ",": ",",
    "?": "?",
    "!": "!",
    ":": ":",
    ";": ";",
    "-": DASH,
}
"""Labels of the plain family; ``-`` is a dash between clauses, as in the training data."""

NEUTRAL = {"O", "0"}
_CASE_PUNCT = re.compile(r"^(UPPER_TOTAL|UPPER|LOWER)_([A-Z]+)$")
_GENERIC = re.compile(r"^LABEL_\d+$")
HYPHEN = "-"


@dataclass(frozen=True)
class WordLabel:
    """What a label does to the word it is predicted for."""

    mark: str = ""
    """Text appended after the word ("" for none)."""
    case: Case | None = None
    """The word's casing; None when the family carries no case."""

    @property
    def joins_next(self) -> bool:
        """A hyphen that joins the word to the next one (``кто`` + ``то`` = ``кто-то``)."""
        return self.mark == HYPHEN


@dataclass(frozen=True)
class LabelScheme:
    """A model's labels by output index, and the family they belong to."""

    family: Literal["plain", "case_punct"]
    labels: Mapping[int, WordLabel] = field(default_factory=dict)
    """Output index -> label. Indices missing here are never predicted."""


def _case_punct(name: str) -> WordLabel | None:
    match = _CASE_PUNCT.match(name)
    if not match or match.group(2) not in CASE_PUNCT_MARKS:
        return None
    case = match.group(1).lower()
    return WordLabel(CASE_PUNCT_MARKS[match.group(2)], case)  # type: ignore[arg-type]


def parse_labels(
    id2label: Mapping[int, str], num_labels: int, where: str = "stages.punctuation.model"
) -> LabelScheme:
    """Read a model's ``id2label`` (only indices below ``num_labels`` are outputs).

    Raises :class:`ConfigError` for generic ``LABEL_n`` names (pass the ``labels`` option) and
    for a scheme that is neither family.
    """
    names = {int(i): str(n) for i, n in id2label.items() if 0 <= int(i) < num_labels}
    if not names:
        raise ConfigError("the model's config names none of its output labels", where)
    if all(_GENERIC.match(n) for n in names.values()):
        raise ConfigError(
            f"the model's config only names its labels LABEL_0...LABEL_{num_labels - 1}; "
            f"give the real names in order with stages.punctuation.labels=[...]",
            where,
        )
    meaningful = {i: n for i, n in names.items() if n not in NEUTRAL}
    if meaningful and all(_case_punct(n) for n in meaningful.values()):
        labels = {i: _case_punct(n) or WordLabel() for i, n in names.items()}
        return LabelScheme("case_punct", labels)
    if all(n in PLAIN_MARKS for n in names.values()):
        return LabelScheme("plain", {i: WordLabel(PLAIN_MARKS[n]) for i, n in names.items()})
    unknown = sorted(
        {n for n in meaningful.values() if n not in PLAIN_MARKS and not _case_punct(n)}
    )
    shown = ", ".join(unknown[:8]) or ", ".join(sorted(meaningful.values())[:8])
    raise ConfigError(
        f"unknown label scheme (labels such as {shown}); expected the plain family "
        f"({' '.join(k for k in PLAIN_MARKS if k != 'O')}) or CASE_PUNCT labels "
        f"(LOWER|UPPER|UPPER_TOTAL x {'|'.join(CASE_PUNCT_MARKS)})",
        where,
    )


def labels_from_list(names: Sequence[str], num_labels: int) -> dict[int, str]:
    """The ``labels`` option as an ``id2label`` mapping; its length must match the model."""
    if len(names) != num_labels:
        raise ConfigError(
            f"the model has {num_labels} output labels but {len(names)} names were given",
            "stages.punctuation.labels",
        )
    return dict(enumerate(names))
