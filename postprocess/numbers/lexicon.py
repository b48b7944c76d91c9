"""Number words and context words, built once from pymorphy3's dictionary.

Every inflected form of every Russian numeral (cardinals, ordinals, ``тысяча``/``миллион``/
``миллиард``, ``полтора``) is expanded from its lexeme, so that recognising a word later is one
dictionary lookup: no morphological parse ever runs on ordinary words. Keys are lower case with
``ё`` folded to ``е``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

__all__ = ["Lexicon", "NumberWord", "fold", "lexicon"]

UNIT, TEEN, TEN, HUNDRED, SCALE = range(5)
"""Ranks of a number word inside a spoken number (order: hundreds, tens, units; scales between)."""

CARDINALS = {
    "ноль": 0, "нуль": 0, "один": 1, "два": 2, "три": 3, "четыре": 4, "пять": 5, "шесть": 6,
    "семь": 7, "восемь": 8, "девять": 9, "десять": 10, "одиннадцать": 11, "двенадцать": 12,
    "тринадцать": 13, "четырнадцать": 14, "пятнадцать": 15, "шестнадцать": 16,
    "семнадцать": 17, "восемнадцать": 18, "девятнадцать": 19, "двадцать": 20, "тридцать": 30,
    "сорок": 40, "пятьдесят": 50, "шестьдесят": 60, "семьдесят": 70, "восемьдесят": 80,
    "девяносто": 90, "сто": 100, "двести": 200, "триста": 300, "четыреста": 400,
    "пятьсот": 500, "шестьсот": 600, "семьсот": 700, "восемьсот": 800, "девятьсот": 900,
    "тысяча": 1000, "миллион": 10**6, "миллиард": 10**9,
}  # fmt: skip

ORDINALS = {
    "первый": 1, "второй": 2, "третий": 3, "четвертый": 4, "пятый": 5, "шестой": 6,
    "седьмой": 7, "восьмой": 8, "девятый": 9, "десятый": 10, "одиннадцатый": 11,
    "двенадцатый": 12, "тринадцатый": 13, "четырнадцатый": 14, "пятнадцатый": 15,
    "шестнадцатый": 16, "семнадцатый": 17, "восемнадцатый": 18, "девятнадцатый": 19,
    "двадцатый": 20, "тридцатый": 30, "сороковой": 40, "пятидесятый": 50,
    "шестидесятый": 60, "семидесятый": 70, "восьмидесятый": 80, "девяностый": 90,
    "сотый": 100, "тысячный": 1000, "миллионный": 10**6, "миллиардный": 10**9,
}  # fmt: skip

# Ordinals such as "двухсотый", "пятитысячный": a genitive multiplier glued to a base ordinal.
COMPOUND_PREFIXES = {
    "двух": 2, "трех": 3, "четырех": 4, "пяти": 5, "шести": 6, "семи": 7, "восьми": 8,
    "девяти": 9, "десяти": 10, "одиннадцати": 11, "двенадцати": 12, "пятнадцати": 15,
    "двадцати": 20, "тридцати": 30, "сорока": 40, "пятидесяти": 50, "ста": 100, "сто": 100,
}  # fmt: skip
HUNDRED_PREFIXES = ("двух", "трех", "четырех", "пяти", "шести", "семи", "восьми", "девяти")

UNIT_LEMMAS = (
    "метр", "километр", "сантиметр", "миллиметр", "дециметр", "микрон", "нанометр",
    "грамм", "килограмм", "миллиграмм", "тонна", "центнер", "карат",
    "литр", "миллилитр", "кубометр", "баррель", "гектар", "сотка", "акр",
    "градус", "ватт", "киловатт", "мегаватт", "гигаватт", "вольт", "киловольт", "ампер",
    "герц", "килогерц", "мегагерц", "гигагерц", "бит", "байт", "килобайт", "мегабайт",
    "гигабайт", "терабайт", "калория", "килокалория", "миля", "фут", "дюйм", "ярд",
    "пиксель", "децибел", "паскаль", "килопаскаль",
)  # fmt: skip
CURRENCY_LEMMAS = (
    "рубль", "копейка", "доллар", "цент", "евро", "евроцент", "фунт", "пенс", "юань",
    "иена", "йена", "франк", "гривна", "тенге", "рупия", "злотый", "шекель", "песо",
    "дирхам", "биткоин", "бакс",
)  # fmt: skip

AMBIGUOUS_FORMS = {"семью"}
"""Forms far more often another word (``семью`` is mostly ``семья``) that are never numbers."""

MONTHS = {
    "января": 1, "февраля": 2, "марта": 3, "апреля": 4, "мая": 5, "июня": 6, "июля": 7,
    "августа": 8, "сентября": 9, "октября": 10, "ноября": 11, "декабря": 12,
}  # fmt: skip


def fold(word: str) -> str:
    """The lookup key of a word: lower case, ``ё`` as ``е``."""
    return word.lower().replace("ё", "е")


@dataclass(frozen=True, slots=True)
class NumberWord:
    """One reading of a number word form."""

    value: int
    ordinal: bool
    rank: int
    plural: bool
    """The form can be plural (``тысячи``, ``тридцатые``)."""
    singular: bool
    """The form can be singular."""
    built_in: bool = False
    """A compound that carries its own multiplier (``двухтысячный``)."""


def _rank(value: int) -> int:
    if value < 10:
        return UNIT
    if value < 20:
        return TEEN
    if value < 100:
        return TEN
    if value < 1000:
        return HUNDRED
    return SCALE


class Lexicon:
    """Lookup tables of number words and of the words that give numbers their context."""

    def __init__(self) -> None:
        import pymorphy3

        self._morph = pymorphy3.MorphAnalyzer()
        self.numbers: dict[str, tuple[NumberWord, ...]] = {}
        self._build_numbers()
        self.units = self._forms(UNIT_LEMMAS, "NOUN") | {"килограм", "килограма", "килограмов"}
        self.currencies = self._forms(CURRENCY_LEMMAS, "NOUN")
        self.percent = self._forms(("процент",), "NOUN")
        self.years = {f for f in self._forms(("год",), "NOUN") if f.startswith("год")}
        self.centuries = self._forms(("век",), "NOUN")
        self.hours = self._forms(("час",), "NOUN") - {"часы", "часах", "часами"}
        self.minutes = self._forms(("минута",), "NOUN")
        self.million = self._forms(("миллион",), "NOUN")
        self.billion = self._forms(("миллиард",), "NOUN")
        self.thousand = self._forms(("тысяча",), "NOUN")
        self.whole = {"целая", "целой", "целую", "целою", "целых", "целыми", "целым"}
        self.poltora = self._forms(("полтора",), "NUMR")
        self.half_forms = {"половиной"}

    def _parses(self, lemma: str, pos: str) -> list:
        """pymorphy3's parses of the lemma itself with the given part of speech."""
        parses = self._morph.parse(lemma)
        return [p for p in parses if p.tag.POS == pos and fold(p.normal_form) == fold(lemma)]

    def _forms(self, lemmas: tuple[str, ...], pos: str) -> set[str]:
        forms: set[str] = set()
        for lemma in lemmas:
            for parse in self._parses(lemma, pos):
                forms.update(fold(f.word) for f in parse.lexeme)
            forms.add(fold(lemma))
        return forms

    def _add(self, word: str, entry: NumberWord) -> None:
        """Record one reading of a form; readings of the same number merge their number flags."""
        key = fold(word)
        known = self.numbers.get(key, ())
        identity = (entry.value, entry.ordinal, entry.built_in)
        for i, old in enumerate(known):
            if (old.value, old.ordinal, old.built_in) == identity:
                plural, singular = old.plural or entry.plural, old.singular or entry.singular
                merged = replace(entry, plural=plural, singular=singular)
                self.numbers[key] = (*known[:i], merged, *known[i + 1 :])
                return
        self.numbers[key] = (*known, entry)

    def _lexeme(self, lemma: str, pos: tuple[str, ...]) -> list[tuple[str, bool, bool]]:
        """(form, can be plural, can be singular) for every form of the lemma."""
        parses = [p for pos_ in pos for p in self._parses(lemma, pos_)]
        if not parses:
            raise LookupError(f"pymorphy3 does not know the numeral {lemma!r}")
        out = []
        for f in parses[0].lexeme:
            if "Supr" in f.tag or "COMP" in f.tag:
                continue  # "первейший"
            plural = "plur" in f.tag
            out.append((f.word, plural or f.tag.number is None, not plural))
        return out

    def _build_numbers(self) -> None:
        for lemma, value in CARDINALS.items():
            pos = ("NOUN",) if value == 0 or value >= 1000 else ("NUMR", "ADJF")
            for word, plural, singular in self._lexeme(lemma, pos):
                if value == 1 and plural and not singular:
                    continue  # "одни" means "alone", not a quantity
                if fold(word) in AMBIGUOUS_FORMS:
                    continue
                if value < 1000:
                    plural, singular = False, True
                self._add(word, NumberWord(value, False, _rank(value), plural, singular))
        for lemma, value in ORDINALS.items():
            forms = self._lexeme(lemma, ("ADJF",))
            for word, plural, singular in forms:
                self._add(word, NumberWord(value, True, _rank(value), plural, singular))
            if value == 100:
                for prefix in HUNDRED_PREFIXES:
                    mult = COMPOUND_PREFIXES[prefix]
                    for word, plural, singular in forms:
                        entry = NumberWord(mult * 100, True, HUNDRED, plural, singular)
                        self._add(prefix + fold(word), entry)
            if value in (1000, 10**6):
                for prefix, mult in COMPOUND_PREFIXES.items():
                    for word, plural, singular in forms:
                        entry = NumberWord(mult * value, True, SCALE, plural, singular, True)
                        self._add(prefix + fold(word), entry)

    def number(self, key: str) -> tuple[NumberWord, ...]:
        """The readings of a folded word as a number word (empty for other words)."""
        return self.numbers.get(key, ())


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The shared lexicon, built on first use."""
    return Lexicon()
