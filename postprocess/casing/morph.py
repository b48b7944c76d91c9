"""What pymorphy3 says about a lowercase word, cached: proper-noun scores, acronyms, lemmas."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from asr_pipeline.errors import MissingDependencyError

__all__ = ["PROPER_GRAMMEMES", "Analysis", "analyse", "lemmas"]

PROPER_GRAMMEMES = frozenset({"Name", "Surn", "Patr", "Geox", "Orgn", "Trad"})
"""OpenCorpora grammemes of words written with a capital: names, surnames, patronymics, places,
organisations, trade marks."""

FUNCTION_POS = frozenset({"CONJ", "PRCL", "PREP", "INTJ", "NPRO", "PRED"})
FUNCTION_WORD_SCORE = 0.1
"""A word this likely to be a conjunction, particle, preposition or pronoun is never a name."""

_VOWELS = frozenset("аеёиоуыэюяaeiouy")


@dataclass(frozen=True, slots=True)
class Analysis:
    """The facts about one lowercase word that decide its casing."""

    proper: float
    """Summed score of the parses tagged as a name, place, organisation or trade mark."""
    acronym: float
    """Summed score of the parses tagged Abbr with Orgn or Geox (``мвд``, ``сша``)."""
    place: float
    """Summed score of the parses tagged as a place (Geox)."""
    given: float
    """Summed score of the parses tagged as a given name (Name)."""
    roman: float
    """Score of the Roman-numeral parse (``xix``)."""
    known: bool
    """Whether the word is in the dictionary (otherwise its parses are guesses)."""
    adjective: bool
    """Whether the best parse is a full adjective or participle."""
    vowelless: bool
    """Whether the word has no vowel letter (``км``, ``мвд``)."""
    latin: bool
    """Whether the word is written in Latin letters."""


def _is_proper(grammemes: frozenset[str], part_of_speech: str | None) -> bool:
    """A proper-noun parse; adjectives tagged Geox (шотландский) are written lowercase."""
    return part_of_speech == "NOUN" and not grammemes.isdisjoint(PROPER_GRAMMEMES)


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    try:
        import pymorphy3
    except ImportError as e:  # a core dependency, but say what to do if it is missing
        raise MissingDependencyError("the casing stage", "all", "pymorphy3") from e
    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=1 << 17)
def _parse(word: str) -> tuple[Any, ...]:
    return tuple(_analyzer().parse(word))


@lru_cache(maxsize=1 << 17)
def analyse(word: str) -> Analysis:
    """Analyse a lowercase word (one part of a hyphenated word at most)."""
    parses = _parse(word)
    proper = acronym = roman = place = given = 0.0
    function = 0.0
    for parse in parses:
        grammemes = parse.tag.grammemes
        if "ROMN" in grammemes:
            roman += parse.score
        elif parse.tag.POS in FUNCTION_POS:
            function += parse.score
        elif _is_proper(grammemes, parse.tag.POS):
            proper += parse.score
            if "Geox" in grammemes:
                place += parse.score
            if "Name" in grammemes:
                given += parse.score
            if "Abbr" in grammemes and ("Orgn" in grammemes or "Geox" in grammemes):
                acronym += parse.score
    if function >= FUNCTION_WORD_SCORE:  # ли, аж: a particle, not the name Ли
        proper = acronym = place = given = 0.0
    best = parses[0].tag if parses else None
    return Analysis(
        proper=proper,
        acronym=acronym,
        place=place,
        given=given,
        roman=roman,
        known=_analyzer().word_is_known(word),
        adjective=best is not None and best.POS in ("ADJF", "PRTF"),
        vowelless=word.isalpha() and _VOWELS.isdisjoint(word),
        latin=word.isascii() and word.isalpha(),
    )


@lru_cache(maxsize=1 << 17)
def lemmas(word: str) -> frozenset[str]:
    """Every dictionary form pymorphy3 offers for a lowercase word, with ``ё`` written ``е``."""
    forms = {p.normal_form for p in _parse(word)} | {word}
    return frozenset(f.replace("ё", "е") for f in forms)


@lru_cache(maxsize=1 << 16)
def best_lemma(word: str) -> str:
    """The most likely dictionary form of a lowercase word, with ``ё`` written ``е``."""
    parses = _parse(word)
    form = parses[0].normal_form if parses else word
    return form.replace("ё", "е")


@lru_cache(maxsize=1 << 16)
def pos(word: str) -> str | None:
    """The part of speech of the best parse (``NOUN``, ``ADJF``, ``PREP``...)."""
    parses = _parse(word)
    return parses[0].tag.POS if parses else None


COMMON_SUFFIXES = (
    "ция",
    "изм",
    "ость",
    "ние",
    "тель",
    "оз",
    "ит",
    "логия",
    "терапия",
    "графия",
    "метрия",
    "ство",
    "ка",
    "ник",
    "щик",
    "чик",
)
"""Lemma endings of Russian word-formation: an unknown word with one is a common noun."""


COMPOUND_TAIL = 7
"""Letters of a known word after an unknown prefix that make a word a compound, not a name."""


def _known_tail(parse: Any) -> int:
    """Length of the known word pymorphy3 found after an unknown prefix (0 if none)."""
    units = [type(unit).__name__ for unit, *_ in parse.methods_stack]
    if "UnknownPrefixAnalyzer" not in units:
        return 0
    return len(parse.methods_stack[0][1])


@lru_cache(maxsize=1 << 16)
def unknown_word_casing(word: str) -> str | None:
    """Casing of a Cyrillic word the dictionary does not know, from the shape of its guess.

    Unknown words in Russian text are mostly foreign names (Сырбу, Мактэвиш); words pymorphy3
    explains as a known prefix plus a known word (супергероев), as any prefix before a long
    known word (подбассейн), as a common derivation (бартонеллез, инфузия), or as a verb or
    adverb form stay lowercase. Short words it cannot parse at all are read as acronyms (КПИ).
    """
    if len(word) < 3 or not word.isalpha() or word.isascii() or _analyzer().word_is_known(word):
        return None
    best = _parse(word)[0]
    if any(type(unit).__name__ == "KnownPrefixAnalyzer" for unit, *_ in best.methods_stack):
        return None
    part_of_speech = best.tag.POS
    lemma = best.normal_form
    if part_of_speech is None:
        return "upper" if len(word) <= 4 else "title"
    if part_of_speech in ("ADJF", "PRTF"):
        return "title" if lemma.endswith(("ский", "цкий")) else None
    if _known_tail(best) >= COMPOUND_TAIL:
        return None  # an unknown prefix before a long known word: подбассейн, лимфогранулема
    if part_of_speech not in ("NOUN", "ADJS") or lemma.endswith(COMMON_SUFFIXES):
        return None  # verb forms are more often misspelt words than names
    return "title"


@lru_cache(maxsize=1 << 16)
def agree(noun: str, adjective: str) -> bool:
    """Whether an adjective can agree with a noun in case and number (Петра великого)."""
    nouns = {(p.tag.case, p.tag.number) for p in _parse(noun) if p.tag.POS == "NOUN"}
    adjectives = {(p.tag.case, p.tag.number) for p in _parse(adjective) if p.tag.POS == "ADJF"}
    return not nouns.isdisjoint(adjectives)


@lru_cache(maxsize=1 << 16)
def singular(word: str) -> bool:
    """Whether the best parse of a word is singular."""
    parses = _parse(word)
    return bool(parses) and parses[0].tag.number == "sing"


_CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
MISSPELT_MIN = 2
"""Words shorter than this are not checked for misspelling."""


@lru_cache(maxsize=1 << 16)
def looks_misspelt(word: str) -> bool:
    """Whether an unknown Cyrillic word is one edit from a known common word (a letter swapped,
    dropped or added) or two known words run together: what recognition errors look like.
    A word one edit from a name (Позднова, Тезей) is more likely a name itself."""
    if len(word) < MISSPELT_MIN or not word.isalpha() or word.isascii():
        return False
    for i in range(len(word) + 1):
        head, tail = word[:i], word[i:]
        if tail and len(word) > 3 and _common(head + tail[1:]):
            return True  # a letter too many
        for letter in _CYRILLIC:
            if _common(head + letter + tail) or (tail and _common(head + letter + tail[1:])):
                return True  # a letter missing, a letter swapped
        if 2 <= i <= len(word) - 2 and _common(head) and _common(tail):
            return True  # two words run together
    return False


def _common(word: str) -> bool:
    """A dictionary word that is not mostly a name."""
    return _analyzer().word_is_known(word) and analyse(word).proper < 0.5
