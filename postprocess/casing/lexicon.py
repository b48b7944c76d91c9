"""Written forms matched on lemmas: shipped acronyms, multi-word names, the user's vocabulary.

A form is written as it should appear, in any case form (``Российская Федерация``); it matches
every inflection of its words, because each word is compared on its pymorphy3 dictionary forms
(``Российской Федерации``, ``Российскую Федерацию``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .morph import lemmas

__all__ = ["Form", "FormIndex", "shipped_forms"]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SHIPPED_FILES = ("casing_acronyms.txt", "casing_names.txt")


@dataclass(frozen=True, slots=True)
class Form:
    """One written form: its words as written and, per word, the lemmas it matches."""

    words: tuple[str, ...]
    keys: tuple[frozenset[str], ...]

    @classmethod
    def parse(cls, text: str) -> Form:
        words = tuple(text.split())
        return cls(words, tuple(_form_keys(w) for w in words))

    def matches(self, lowers: Sequence[str]) -> bool:
        """Whether lowercase words (as many as the form has) are an inflection of this form."""
        return all(
            _same(word, written) or (bool(keys) and not keys.isdisjoint(_keys(word)))
            for word, written, keys in zip(lowers, self.words, self.keys, strict=True)
        )


def _same(word: str, written: str) -> bool:
    return word.replace("ё", "е") == written.lower().replace("ё", "е")


def _form_keys(written: str) -> frozenset[str]:
    """Lemmas a written word matches on; none for acronyms, which match as written only
    (``РАН`` must not match ``раны``)."""
    if len(written) > 1 and sum(c.isupper() for c in written) > 1:
        return frozenset()
    return _keys(written.lower())


@lru_cache(maxsize=1 << 17)
def _keys(word: str) -> frozenset[str]:
    """Lemmas of a word; a hyphenated word also matches on the lemmas of its last part."""
    if "-" in word:
        head, _, last = word.rpartition("-")
        return frozenset(f"{head}-{lemma}" for lemma in lemmas(last)) | lemmas(word)
    return lemmas(word)


class FormIndex:
    """Written forms by the lemmas of their first word, longest first."""

    def __init__(self, forms: Iterable[str]) -> None:
        self._by_first: dict[str, list[Form]] = {}
        for text in forms:
            form = Form.parse(text)
            if not form.words:
                continue
            for key in form.keys[0] | {form.words[0].lower().replace("ё", "е")}:
                self._by_first.setdefault(key, []).append(form)
        for candidates in self._by_first.values():
            candidates.sort(key=lambda f: -len(f.words))

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def match(self, lowers: Sequence[str], start: int, limit: int) -> Form | None:
        """The longest form starting at ``lowers[start]`` that ends before ``limit``."""
        seen: set[int] = set()
        best: Form | None = None
        for key in _keys(lowers[start]) | {lowers[start].replace("ё", "е")}:
            for form in self._by_first.get(key, ()):
                if id(form) in seen or start + len(form.words) > limit:
                    continue
                seen.add(id(form))
                if best is not None and len(form.words) <= len(best.words):
                    continue
                if form.matches(lowers[start : start + len(form.words)]):
                    best = form
        return best


@lru_cache(maxsize=1)
def shipped_forms() -> tuple[str, ...]:
    """The acronyms and multi-word names shipped in ``postprocess/data/casing_*.txt``."""
    forms: list[str] = []
    for name in SHIPPED_FILES:
        text = (DATA_DIR / name).read_text(encoding="utf-8")
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                forms.append(line)
    return tuple(forms)
