"""Finding spoken numbers in a run of words and deciding how each is written.

The engine works on a list of words (as they come from CTC, or with punctuation and capitals
attached) and returns :class:`Span` objects: which words to replace by which text. Plain text and
transcript words share this one implementation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .lexicon import HUNDRED, MONTHS, SCALE, TEEN, TEN, UNIT, Lexicon, NumberWord, fold, lexicon
from .render import digits, ordinal_ending, roman

__all__ = ["STYLES", "Span", "find_spans"]

STYLES = ("editorial", "digits")

ADDRESS_WORDS = {"дом", "квартира", "номер", "номером", "номере", "корпус", "строение"}
GENITIVE_WORDS = {"свыше", "более", "больше", "менее", "меньше", "около", "до", "от", "из",
                  "без", "для", "порядка", "с", "со", "у", "после", "против"}  # fmt: skip
TIME_PREPOSITIONS = {"в", "во", "к", "ко", "до", "с", "со", "на", "после", "около"}
TIME_LEADS = TIME_PREPOSITIONS | {"сейчас", "ровно", "время", "времени"}
CLOCK_PREPOSITIONS = {"в", "во", "к", "ко"}
DAY_PARTS = {"утра", "вечера", "ночи", "дня"}
SCORE_WORDS = {"счет", "счетом", "счете"}
RANGE_WORDS = {"до", "по", "и", "или", "на"}
HALF_PAST_WORDS = {"половине", "половина", "половины", "половину"}
COUNTED_WORDS = {"лет", "раз", "раза", "человек", "человека", "дней", "день", "дня", "недель",
                 "недели", "месяцев", "месяца", "секунд", "секунды", "штук", "штуки"}  # fmt: skip
IDIOMS = {("первым", "делом"), ("первую", "очередь"), ("ни", "один"), ("ни", "одна"),
          ("ни", "одного"), ("ни", "одной"), ("ни", "одну"), ("ни", "одно")}  # fmt: skip
FRACTION_WIDTH = {10: 1, 100: 2, 1000: 3, 10**4: 4, 10**5: 5, 10**6: 6}
PROPAGATED_MODES = {"unit", "day", "year", "century", "clock"}

_EDGES = re.compile(r"^(\W*)(.*?)(\W*)$", re.S)


@dataclass(frozen=True, slots=True)
class Span:
    """Words ``start`` to ``end`` (exclusive) are written as ``text``."""

    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class _Token:
    lead: str
    trail: str
    key: str


@dataclass(frozen=True, slots=True)
class _Number:
    """A spoken number over words ``start`` to ``end``."""

    start: int
    end: int
    value: int
    last: NumberWord
    ordinal: bool
    scale: int
    """The scale word when the number is ``N тысяч/миллионов/миллиардов`` with nothing after."""
    bare: bool
    """One scale word alone: ``тысяча``, ``миллиона``."""

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class _Decision:
    text: str
    end: int
    mode: str


def _tokenize(words: Sequence[str]) -> list[_Token]:
    tokens = []
    for word in words:
        lead, core, trail = _EDGES.fullmatch(word).groups()  # type: ignore[union-attr]
        tokens.append(_Token(lead, trail, fold(core)))
    return tokens


class _Normalizer:
    def __init__(self, words: Sequence[str], style: str, lex: Lexicon) -> None:
        self.tokens = _tokenize(words)
        self.n = len(self.tokens)
        self.style = style
        self.lex = lex
        self.grouped = style == "editorial"
        self.span_ends: set[int] = set()
        self._cache: dict[tuple[int, bool], _Number | None] = {}

    # --- word access -------------------------------------------------------------------------

    def linked(self, j: int) -> bool:
        """Word ``j`` continues word ``j - 1`` (no punctuation between them)."""
        return 0 < j < self.n and not self.tokens[j - 1].trail and not self.tokens[j].lead

    def key(self, j: int) -> str:
        return self.tokens[j].key if 0 <= j < self.n else ""

    def after(self, j: int) -> str:
        """The key of word ``j`` when it directly follows ``j - 1``."""
        return self.tokens[j].key if self.linked(j) else ""

    def before(self, i: int) -> str:
        """The key of the word just before ``i`` when nothing separates them."""
        return self.tokens[i - 1].key if self.linked(i) else ""

    # --- spoken numbers ----------------------------------------------------------------------

    def number(self, i: int, ordinals: bool = True) -> _Number | None:
        """The longest well-formed spoken number starting at word ``i``."""
        cache_key = (i, ordinals)
        if cache_key not in self._cache:
            self._cache[cache_key] = self._parse(i, ordinals)
        return self._cache[cache_key]

    def _parse(self, i: int, ordinals: bool) -> _Number | None:
        total, triple, rank, last_scale = 0, 0, None, 10**12
        groups, tail_scale = 0, 0
        j, last, is_ordinal = i, None, False
        while j < self.n and (j == i or self.linked(j)):
            choice = None
            for word in self.lex.number(self.tokens[j].key):
                if (ordinals or not word.ordinal) and self._fits(word, j - i, rank, last_scale):
                    choice = word
                    break
            if choice is None:
                break
            if choice.rank < SCALE:
                triple += choice.value
                rank = choice.rank
            elif choice.built_in:
                total += choice.value
                groups += 1
            else:
                total += (triple if rank is not None else 1) * choice.value
                groups += 1
                last_scale, tail_scale = choice.value, choice.value
                triple, rank = 0, None
            last, j = choice, j + 1
            if choice.ordinal or choice.value == 0:
                is_ordinal = choice.ordinal
                break
        if last is None:
            return None
        if last.value == 0 and ordinals and self.linked(j):
            led = [w for w in self.lex.number(self.tokens[j].key) if w.ordinal and w.rank == UNIT]
            if led:
                return _Number(i, j + 1, led[0].value, led[0], True, 0, False)
        scale = tail_scale if groups == 1 and rank is None and not is_ordinal else 0
        bare = j - i == 1 and last.rank == SCALE and not last.ordinal
        return _Number(i, j, total + triple, last, is_ordinal, scale, bare)

    @staticmethod
    def _fits(word: NumberWord, position: int, rank: int | None, last_scale: int) -> bool:
        if word.value == 0:
            return position == 0
        if word.rank < SCALE:
            if rank is None:
                return True
            if rank == HUNDRED:
                return word.rank in (TEN, TEEN, UNIT)
            return rank == TEN and word.rank == UNIT
        if word.built_in:
            return rank is None and word.value < last_scale
        if word.value >= last_scale:
            return False
        if rank is None:
            return position == 0 and (word.singular or word.ordinal)
        return True

    # --- writing -----------------------------------------------------------------------------

    def fmt(self, value: int) -> str:
        return digits(value, grouped=self.grouped)

    def ordinal_text(self, num: _Number) -> str:
        return f"{num.value}-{ordinal_ending(self.tokens[num.end - 1].key)}"

    def is_measure(self, j: int) -> bool:
        """A unit or currency word at ``j``, possibly after ``квадратных``/``кубических``."""
        key = self.after(j)
        if key.startswith(("квадратн", "кубическ")):
            key = self.after(j + 1)
        return key in self.lex.units or key in self.lex.currencies

    # --- rules -------------------------------------------------------------------------------

    def run(self) -> list[Span]:
        spans: list[Span] = []
        i = 0
        while i < self.n:
            found = self._at(i)
            if isinstance(found, int):
                i = max(found, i + 1)
                continue
            if found is None:
                i += 1
                continue
            spans.append(found)
            self.span_ends.add(found.end)
            i = found.end
        return spans

    def _at(self, i: int) -> Span | int | None:
        """A span starting at ``i``, an index to skip to (words left alone), or None."""
        key = self.tokens[i].key
        if not key:
            return None
        protected = self._protected(i)
        if protected:
            return protected
        if key == "минус" and self.linked(i + 1):
            inner = self._at(i + 1)
            if isinstance(inner, Span) and inner.start == i + 1 and inner.text[0].isdigit():
                return Span(i, inner.end, "-" + inner.text)
            return None
        for rule in (self._score, self._phone, self._clock):
            span = rule(i)
            if span:
                return span
        decision = self._quantity(i)
        if isinstance(decision, _Decision):
            return Span(i, decision.end, decision.text)
        return decision

    def _protected(self, i: int) -> int | None:
        """``без десяти шесть``, ``в половине девятого``, ``пять минут девятого`` stay words."""
        key = self.tokens[i].key
        if (key, self.after(i + 1)) in IDIOMS:
            return i + 2
        if key == "без":
            first = self.number(i + 1, ordinals=False) if self.linked(i + 1) else None
            if first:
                j = first.end + (self.after(first.end) in self.lex.minutes)
                second = self.number(j, ordinals=False) if self.linked(j) else None
                if second and second.value <= 12:
                    return second.end
        if key in HALF_PAST_WORDS and self.linked(i + 1):
            hour = self.number(i + 1)
            if hour and hour.ordinal and hour.value <= 12:
                return hour.end
        first = self.number(i, ordinals=False)
        if first and self.after(first.end) in self.lex.minutes and self.linked(first.end + 1):
            hour = self.number(first.end + 1)
            if hour and hour.ordinal and hour.value <= 12 and hour.last.singular:
                if not self.after(hour.end) or self.after(hour.end) in DAY_PARTS:
                    return hour.end
        return None

    def _score(self, i: int) -> Span | None:
        if self.before(i) not in SCORE_WORDS:
            return None
        first = self.number(i, ordinals=False)
        if not first or first.value >= 1000 or not self.linked(first.end):
            return None
        second = self.number(first.end, ordinals=False)
        if not second or second.value >= 1000:
            return None
        return Span(i, second.end, f"{first.value}:{second.value}")

    def _phone(self, i: int) -> Span | None:
        groups: list[str] = []
        ends: list[int] = []
        j = i
        while j < self.n and (j == i or self.linked(j)) and len(groups) < 12:
            num = self.number(j, ordinals=False)
            if not num or num.value >= 1000 or num.scale or num.bare:
                break
            groups.append(str(num.value))
            ends.append(num.end)
            j = num.end
        plus = self.before(i) == "плюс"
        for count in range(len(groups), 2, -1):
            text = "".join(groups[:count])
            written = _phone_text(text, [len(g) for g in groups[:count]], plus)
            if written:
                return Span(i - plus, ends[count - 1], written)
        return None

    def _clock(self, i: int) -> Span | None:
        """``в девять тридцать`` -> ``в 9:30``, ``в двадцать ноль ноль`` -> ``в 20:00``."""
        hour = self.number(i, ordinals=False)
        if not hour or hour.value > 23 or hour.bare or hour.scale or hour.size > 2:
            return None
        j = hour.end
        if not self.linked(j):
            return None
        if self.key(j) in ("ноль", "нуль"):
            if self.after(j + 1) in ("ноль", "нуль"):
                minutes, end = "00", j + 2
            else:
                unit = self.number(j + 1, ordinals=False) if self.linked(j + 1) else None
                if not unit or unit.size != 1 or not 1 <= unit.value <= 9:
                    return None
                minutes, end = f"0{unit.value}", unit.end
        else:
            minute = self.number(j, ordinals=False)
            if not minute or not 10 <= minute.value <= 59 or minute.scale or minute.bare:
                return None
            minutes, end = str(minute.value), minute.end
        following = self.after(end)
        if following in DAY_PARTS:
            pass
        elif self.before(i) not in TIME_LEADS and not self._bare_clock(hour.value, minutes):
            return None
        elif following and (
            following in COUNTED_WORDS
            or following in self.lex.percent
            or following in self.lex.hours
            or following in self.lex.minutes
            or following in self.lex.years
            or self.is_measure(end)
            or self.lex.number(following)
        ):
            return None
        return Span(i, end, f"{hour.value}:{minutes}")

    @staticmethod
    def _bare_clock(hour: int, minutes: str) -> bool:
        """``девять тридцать`` alone reads as a time; ``десять пятнадцать`` as an estimate."""
        minute = int(minutes)
        if minutes.startswith("0") or minute < 15:
            return False
        estimate = hour >= 10 and minute - hour <= 10 and hour % 5 == 0 and minute % 5 == 0
        return not estimate

    # --- quantities --------------------------------------------------------------------------

    def _quantity(self, i: int) -> _Decision | int | None:
        """How the quantity at ``i`` is written; an index past it when it stays words."""
        decimal = self._decimal(i)
        if decimal is not None:
            return decimal
        num = self.number(i)
        if not num:
            return None
        scaled = self._shared_scale(num)
        if scaled and scaled.scale >= 10**6 and self.grouped:
            return _Decision(self.fmt(num.value), num.end, "plain")  # "от 3 до 5 млрд"
        if scaled:
            num = scaled
        decision = self._decide(num)
        if decision and not (decision.mode == "plain" and num.ordinal):
            return decision
        return self._range(num) or decision or num.end

    def _shared_scale(self, num: _Number) -> _Number | None:
        """``от пяти до десяти тысяч``: the first end counts in the second end's scale."""
        if num.ordinal or num.scale or num.bare or num.value >= 1000 or num.value == 0:
            return None
        if self.after(num.end) not in ("до", "или") or not self.linked(num.end + 1):
            return None
        other = self.number(num.end + 1, ordinals=False)
        if not other or not other.scale or other.bare or other.value // other.scale < num.value:
            return None
        value = num.value * other.scale
        return replace(num, value=value, scale=other.scale)

    def _decimal(self, i: int) -> _Decision | int | None:
        """Decimals, ``с половиной``, bare fractions and ``полтора`` before a scale or unit.

        A bare fraction with nothing to measure (``три десятых``) stays words: the index past it.
        """
        text, end, needs_context = None, i, False
        poltora = self.tokens[i].key in self.lex.poltora
        whole = None if poltora else self.number(i, ordinals=False)
        if poltora:
            text, end, needs_context = "1,5", i + 1, True
        elif whole and not whole.bare and not whole.scale and self.linked(whole.end):
            after = self.key(whole.end)
            tenths = self.number(whole.end, ordinals=False) if whole.value == 0 else None
            if tenths and tenths.value < 100 and self.is_measure(tenths.end):
                return _Decision(f"0,{tenths.value}", tenths.end, "unit")  # "ноль пять литра"
            fraction = self._fraction(i)
            if after in self.lex.whole:
                j = whole.end + 1
                j += self.after(j) == "и"
                fraction = self._fraction(j) if self.linked(j) else None
                if fraction:
                    text, end = f"{self.fmt(whole.value)},{fraction[0]}", fraction[1]
            elif after == "с" and self.after(whole.end + 1) in self.lex.half_forms:
                text, end = f"{self.fmt(whole.value)},5", whole.end + 2
            elif after == "и" and self._fraction(whole.end + 1, max_width=3):
                part, end = self._fraction(whole.end + 1, max_width=3)  # type: ignore[misc]
                text = f"{self.fmt(whole.value)},{part}"  # "три и две десятых"
            elif fraction and self.before(i) != "и" and not self.lex.number(self.before(i)):
                text, end, needs_context = f"0,{fraction[0]}", fraction[1], True
        if text is None:
            return None
        following = self.after(end)
        if poltora and following in self.lex.thousand:
            return _Decision("1500", end + 1, "unit")
        if following in self.lex.million or following in self.lex.billion:
            word = "млн" if following in self.lex.million else "млрд"
            text, end, needs_context = f"{text} {word}", end + 1, False
            following = self.after(end)
        if following in self.lex.percent:
            return _Decision(f"{text} %", end + 1, "unit")
        if needs_context and (poltora or not self.is_measure(end)):
            if poltora or self.number(i).end == end:  # type: ignore[union-attr]
                return None  # "двух тысячных" read whole as an ordinal: 2000-х
            return end
        return _Decision(text, end, "unit")

    def _fraction(self, j: int, max_width: int = 6) -> tuple[str, int] | None:
        """``две десятых`` -> ("2", end); ``пять сотых`` -> ("05", end)."""
        numerator = self.number(j, ordinals=False)
        if not numerator or numerator.bare or not self.linked(numerator.end):
            return None
        for word in self.lex.number(self.key(numerator.end)):
            width = FRACTION_WIDTH.get(word.value)
            if word.ordinal and width and width <= max_width:
                if len(str(numerator.value)) <= width:
                    return f"{numerator.value:0{width}d}", numerator.end + 1
        return None

    def _decide(self, num: _Number) -> _Decision | None:
        if num.ordinal:
            return self._decide_ordinal(num)
        following, previous = self.after(num.end), self.before(num.start)
        if num.bare:
            if not num.last.singular or num.value > 1000:
                return None  # vague plurals ("тысячи людей", "миллионы"), "миллион" alone
            if num.last.plural and previous not in GENITIVE_WORDS:
                return None  # "тысячи" is a plural unless a genitive governs it
        text = self.fmt(num.value)
        if num.scale >= 10**6 and self.grouped:
            word = "млн" if num.scale == 10**6 else "млрд"
            text = f"{self.fmt(num.value // num.scale)} {word}"
        if following in self.lex.percent:
            return _Decision(f"{text} %", num.end + 1, "unit")
        if self.is_measure(num.end):
            return _Decision(text, num.end, "unit")
        if self._is_clock_hour(num, following, previous):
            return _Decision(text, num.end, "clock")
        if previous in ADDRESS_WORDS:
            return _Decision(text, num.end, "address")
        if num.value >= 10 or num.bare:
            return _Decision(text, num.end, "plain")
        if self.style == "digits":
            alone = num.size == 1 and num.value == 1  # "один из", "я одна"
            alone = alone and not self.lex.number(previous) and not self.lex.number(following)
            if not alone or following in self.lex.hours or following in self.lex.minutes:
                return _Decision(text, num.end, "plain")
        return None

    def _is_clock_hour(self, num: _Number, following: str, previous: str) -> bool:
        if num.value > 24 or num.size > 2:
            return False
        if following in self.lex.hours:
            if previous in CLOCK_PREPOSITIONS or self.after(num.end + 1) in DAY_PARTS:
                return True
        if following in DAY_PARTS and 1 <= num.value <= 12:
            return previous in TIME_PREPOSITIONS - {"на"}
        if following in self.lex.minutes:
            hour_word = num.start - 1
            return self.key(hour_word) in self.lex.hours and hour_word in self.span_ends
        return False

    def _decide_ordinal(self, num: _Number) -> _Decision | None:
        following, previous = self.after(num.end), self.before(num.start)
        value, word = num.value, num.last
        if following in MONTHS and 1 <= value <= 31:
            return _Decision(str(value), num.end, "day")
        if previous in MONTHS and value >= 10 and word.singular:
            return _Decision(str(value), num.end, "year")
        if following in self.lex.years and word.singular and not word.plural and value >= 10:
            if self.after(num.end + 1) != "жизни":  # "на пятьдесят третьем году жизни": an age
                return _Decision(str(value), num.end, "year")
        if following in self.lex.centuries:
            text = roman(value) if self.grouped else str(value)
            return _Decision(text, num.end, "century")
        if num.size == 1 and value in (10**6, 10**9):
            return None  # "миллионный город"
        if value >= 10 or self.style == "digits":
            return _Decision(self.ordinal_text(num), num.end, "plain")
        return None

    def _range(self, num: _Number) -> _Decision | None:
        """``от трех до шести метров``, ``с третьего по девятое марта``: both ends written."""
        if self.after(num.end) in RANGE_WORDS and self.linked(num.end + 1):
            other = self.number(num.end + 1)
        elif self.linked(num.end):  # "пять семь метров", "восемнадцатом девятнадцатом веках"
            other = self.number(num.end)
            if other and other.value <= num.value:
                return None
        else:
            return None
        if not other or other.ordinal != num.ordinal:
            return None
        decision = self._decide(other)
        if not decision:
            return None
        shared_hours = self.after(other.end) in self.lex.hours  # "с девяти до восемнадцати часов"
        if decision.mode not in PROPAGATED_MODES and not shared_hours:
            return None
        if decision.mode == "century":
            text = roman(num.value) if self.grouped else str(num.value)
        else:
            text = self.fmt(num.value)
        return _Decision(text, num.end, decision.mode)


def _phone_text(text: str, sizes: list[int], plus: bool) -> str | None:
    """``8 XXX XXX-XX-XX``, ``+7 XXX XXX-XX-XX``, ``9XX XXX-XX-XX`` or ``XXX-XX-XX``."""
    if plus:
        if len(text) == 11 and text[0] == "7" and sizes[0] == 1:
            return f"+7 {text[1:4]} {text[4:7]}-{text[7:9]}-{text[9:]}"
        return None
    if len(text) == 11 and text[0] == "8" and sizes[0] == 1:
        return f"8 {text[1:4]} {text[4:7]}-{text[7:9]}-{text[9:]}"
    if len(text) == 10 and text[0] == "9" and sizes[0] == 3:
        return f"{text[:3]} {text[3:6]}-{text[6:8]}-{text[8:]}"
    if len(text) == 7 and sizes == [3, 2, 2]:
        return f"{text[:3]}-{text[3:5]}-{text[5:]}"
    return None


def find_spans(words: Sequence[str], style: str = "editorial") -> list[Span]:
    """The number expressions among ``words`` and how each is written, left to right.

    A span's text keeps the marks before its first word and after its last (``"тридцать."`` ->
    ``"30."``).
    """
    normalizer = _Normalizer(words, style, lexicon())
    tokens = normalizer.tokens
    return [
        Span(s.start, s.end, tokens[s.start].lead + s.text + tokens[s.end - 1].trail)
        for s in normalizer.run()
    ]
