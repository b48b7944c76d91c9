"""How a recognised number is written: digit groups, ordinal endings, Roman numerals."""

from __future__ import annotations

__all__ = ["digits", "ordinal_ending", "roman"]

# Spoken ending -> written ending, longest first (itn-conventions.md, rule 4).
_ENDINGS = (
    ("ыми", "ми"), ("ими", "ми"), ("ого", "го"), ("его", "го"), ("ому", "му"), ("ему", "му"),
    ("ых", "х"), ("их", "х"), ("ый", "й"), ("ий", "й"), ("ой", "й"), ("ей", "й"),
    ("ым", "м"), ("им", "м"), ("ом", "м"), ("ем", "м"), ("ая", "я"), ("ья", "я"), ("яя", "я"),
    ("ое", "е"), ("ье", "е"), ("ые", "е"), ("ие", "е"), ("ее", "е"), ("ую", "ю"), ("ью", "ю"),
    ("юю", "ю"), ("ою", "ю"), ("ею", "ю"), ("ьи", "и"),
)  # fmt: skip

_ROMAN = (
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
)  # fmt: skip


def digits(value: int, *, grouped: bool) -> str:
    """``12500`` -> ``"12 500"`` when grouped (5 digits and up); 4 digits stay together."""
    sign, text = ("-", str(-value)) if value < 0 else ("", str(value))
    if grouped and len(text) >= 5:
        head = len(text) % 3 or 3
        text = " ".join([text[:head]] + [text[i : i + 3] for i in range(head, len(text), 3)])
    return sign + text


def ordinal_ending(word: str) -> str:
    """The written ending of a spoken ordinal form: ``"шестнадцатом"`` -> ``"м"``."""
    for spoken, written in _ENDINGS:
        if word.endswith(spoken):
            return written
    return ""


def roman(value: int) -> str:
    """``17`` -> ``"XVII"``."""
    out = []
    for number, letters in _ROMAN:
        count, value = divmod(value, number)
        out.append(letters * count)
    return "".join(out)
