"""A model's alphabet and text brought to it: the written form a CTC head can emit."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..evaluate.normalize import strip_punctuation

__all__ = ["Alphabet"]


@dataclass(frozen=True)
class Alphabet:
    """The characters a CTC model writes (the word delimiter as a space) and its letter case."""

    chars: frozenset[str]
    upper: bool = False

    @classmethod
    def of_tokenizer(cls, tokenizer: Any) -> Alphabet:
        """The single-character tokens of a CTC tokenizer; ``|`` (the delimiter) is a space."""
        delimiter = getattr(tokenizer, "word_delimiter_token", None) or "|"
        special = set(tokenizer.all_special_tokens)
        chars = {
            " " if token == delimiter else token
            for token in tokenizer.get_vocab()
            if token not in special and len(token) == 1
        }
        chars.add(" ")
        letters = [c for c in chars if c.isalpha()]
        upper = sum(c.isupper() for c in letters) > sum(c.islower() for c in letters)
        return cls(frozenset(chars), upper)

    @functools.cached_property
    def letters(self) -> frozenset[str]:
        """The alphabet's letters and digits: no punctuation, no space."""
        return frozenset(c for c in self.chars if c.isalnum())

    def normalize(self, text: str) -> str:
        """``text`` as the model would write it: its case, ``ё`` as ``е`` when it has no ``ё``,
        no punctuation (as ``eval`` scores), single spaces. Other characters stay, to be
        reported or learnt."""
        return " ".join(self._words(text))

    def _words(self, text: str) -> list[str]:
        text = text.upper() if self.upper else text.lower()
        for yo, ye in (("ё", "е"), ("Ё", "Е")):
            if yo not in self.chars:
                text = text.replace(yo, ye)
        words = []
        for word in text.split():
            # Punctuation rules look at a mark's neighbours only, so a word at a time is the
            # same as the whole line, and words of letters alone skip the slow path.
            if not set(word) <= self.letters:
                words += strip_punctuation(word).split()
            else:
                words.append(word)
        return words

    def unknown(self, text: str) -> list[str]:
        """Characters of (normalised) ``text`` the model cannot write, in order of appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.chars))

    def known_words(self, text: str) -> Iterable[list[str]]:
        """Runs of words made only of known characters: a word the model cannot write (a
        digit, a foreign letter) ends a run, as a sentence boundary would."""
        run: list[str] = []
        for word in self._words(text):
            if set(word) <= self.chars:
                run.append(word)
            elif run:
                yield run
                run = []
        if run:
            yield run
