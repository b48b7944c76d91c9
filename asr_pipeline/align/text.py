"""A known transcript made ready to align: utterances, tokens as written, and what is spoken.

The user's text is never changed: each whitespace-separated token keeps its case, punctuation
and digits. Only for aligning is a token turned into *spoken words* in the model's alphabet:
lower case, letters the model lacks dropped (``ё`` read as ``е`` when the model has no ``ё``),
digits verbalised in Russian (``25 мая`` -> ``двадцать пятого мая``, ``9:30`` -> ``девять
тридцать``) with num2words, the extra ``[align]``. A token with nothing to say (a dash) rides
along with its neighbour.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from ..errors import MissingDependencyError

__all__ = ["Token", "Utterance", "spoken_words", "utterances"]

MONTHS = frozenset(
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря".split()
)
"""Month names in the genitive: a day number before one is read as an ordinal (25-го мая)."""
MAX_TOKENS = 60
"""An utterance longer than this many tokens is aligned in pieces of this size."""
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_PIECES = re.compile(r"\d+|[^\W\d_]+(?:[-'][^\W\d_]+)*")


@dataclass(frozen=True)
class Token:
    """One word as written, and the words it is spoken as (several for a number)."""

    text: str
    spoken: tuple[str, ...]


@dataclass(frozen=True)
class Utterance:
    """A sentence (or a line) of the text: its tokens in order."""

    tokens: tuple[Token, ...]

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.tokens)


def utterances(text: str, alphabet: Collection[str]) -> list[Utterance]:
    """The text's sentences, split at line breaks and sentence ends, each with tokens whose
    spoken words use only ``alphabet`` (the model's lower-case letters)."""
    found = []
    for line in text.splitlines():
        for sentence in _SENTENCE_END.split(line.strip()):
            written = sentence.split()
            tokens = [
                Token(word, tuple(spoken_words(word, _next(written, i), alphabet)))
                for i, word in enumerate(written)
            ]
            tokens = _glue_silent(tokens)
            for low in range(0, len(tokens), MAX_TOKENS):
                found.append(Utterance(tuple(tokens[low : low + MAX_TOKENS])))
    return [u for u in found if u.tokens]


def _next(words: list[str], i: int) -> str:
    return words[i + 1] if i + 1 < len(words) else ""


def _glue_silent(tokens: list[Token]) -> list[Token]:
    """Tokens with nothing spoken joined to the token before (or, first, the one after)."""
    glued: list[Token] = []
    pending = ""
    for token in tokens:
        if not token.spoken:
            if glued:
                glued[-1] = Token(f"{glued[-1].text} {token.text}", glued[-1].spoken)
            else:
                pending = f"{pending}{token.text} "
            continue
        glued.append(Token(pending + token.text, token.spoken))
        pending = ""
    if pending:  # nothing in the utterance can be said: kept whole, to be reported
        return [Token(pending.strip(), ())]
    return glued


def spoken_words(token: str, following: str, alphabet: Collection[str]) -> list[str]:
    """How ``token`` is said, in ``alphabet``: its letter runs as they are, its digit runs as
    Russian number words (a day before a month name as a genitive ordinal)."""
    words: list[str] = []
    month = _letters(following, alphabet) in MONTHS
    for piece in _PIECES.findall(token.lower()):
        if piece.isdigit():
            words += _say_number(int(piece), ordinal=month and 1 <= int(piece) <= 31).split()
        else:
            words.append(piece)
    return [w for w in (_letters(w, alphabet) for w in words) if w]


def _letters(word: str, alphabet: Collection[str]) -> str:
    word = word.lower()
    if "ё" not in alphabet:
        word = word.replace("ё", "е")
    kept = "".join(c for c in word if c in alphabet)
    return kept.strip("-'")


def _say_number(value: int, *, ordinal: bool) -> str:
    try:
        from num2words import num2words
    except ImportError as e:
        raise MissingDependencyError("aligning text with digits", "align", "num2words") from e
    if ordinal:
        return num2words(value, lang="ru", to="ordinal", case="genitive", gender="n")
    return num2words(value, lang="ru")
