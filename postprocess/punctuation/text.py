"""Words in and out of a punctuation model: what the model reads, and how a label is applied."""

from __future__ import annotations

import unicodedata

from .labels import WordLabel

__all__ = ["TRAILING_MARKS", "apply_label", "model_input"]

TRAILING_MARKS = ".,?!:;…—–-"
"""Marks the stage predicts; a word's own trailing run of these is replaced by the prediction."""


def _is_outer(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


def model_input(word: str) -> str:
    """The form a punctuation model expects: lower case, no punctuation at either end.

    Inner characters stay (``кто-то``, ``3,5``); inner spaces go (``12 500`` is read as one
    word, ``12500``, so its label is the one after it). A symbol standing alone (``%`` in
    ``30 %``) is read as it is, so the mark can follow it. A word made only of marks the stage
    predicts (``—``) gives ``""``, which the tokenizer turns into no tokens: it gets no label
    and is left as it is.
    """
    start, end = 0, len(word)
    while start < end and _is_outer(word[start]):
        start += 1
    while end > start and _is_outer(word[end - 1]):
        end -= 1
    if start == end and not all(char in TRAILING_MARKS or char.isspace() for char in word):
        return "".join(word.split()).lower()
    return "".join(word[start:end].split()).lower()


def _capitalise(text: str) -> str:
    for i, char in enumerate(text):
        if char.isalpha():
            return text[:i] + char.upper() + text[i + 1 :]
    return text


def apply_label(word: str, label: WordLabel | None, *, apply_case: bool = True) -> str:
    """The word with its trailing marks replaced by the label's mark and its case applied.

    Case only ever raises letters: ``LOWER`` keeps capitals a word already has (a name from a
    vocabulary, an abbreviation), ``UPPER`` capitalises the first letter, ``UPPER_TOTAL`` every
    letter. Quotes, brackets and other characters the stage does not predict are kept.
    """
    if label is None:
        return word
    body = word.rstrip(TRAILING_MARKS + " ")
    if not body:
        return word
    if apply_case and label.case == "upper":
        body = _capitalise(body)
    elif apply_case and label.case == "upper_total":
        body = body.upper()
    return body + label.mark
