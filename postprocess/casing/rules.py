"""Casing decisions over a run of words: written forms, names, acronyms, sentence starts.

:func:`restore_casing` takes word texts (punctuation attached, as the stages pass them) and
returns them with capitals restored; the stage wraps it for transcripts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .lexicon import Form, FormIndex
from .morph import (
    agree,
    analyse,
    best_lemma,
    looks_misspelt,
    pos,
    singular,
    unknown_word_casing,
)
from .tokens import ABBREVIATIONS, CLOSING_ABBREVIATIONS, Token, apply_case, split_token

__all__ = ["CasingRules", "restore_casing"]

HYPHEN_PARTICLES = frozenset(
    "на де ди да ла ле дю дер фон ван эль аль ибн бен оглы кызы сюр и за под ам ан".split()
)
"""Lowercase parts of hyphenated names (Ростов-на-Дону, Франкфурт-на-Майне)."""

LATIN_FUNCTION_WORDS = frozenset(
    "a an and at by de del der des di du da e el et for from in la le of on or the to und van "
    "von y".split()
)
"""Latin-script words left lowercase inside names (Hearts of Space, Carlo di Persano)."""

ROMAN_NOUNS = frozenset("век тысячелетие съезд созыв степень класс том часть глава".split())
"""Words a lone Roman numeral comes before (XX век)."""

REGION_NOUNS = frozenset(
    """область край район округ губерния уезд волость республика княжество ханство царство
    королевство герцогство графство провинция воеводство епархия улус""".split()
)
"""Nouns whose place-name adjective is written with a capital (Вологодская область)."""

DIRECTION_ADJECTIVES = frozenset(
    """северный южный западный восточный центральный северо-западный северо-восточный
    юго-западный юго-восточный верхний нижний малый""".split()
)
"""Adjectives that begin the name of a region before a place name (Южная Корея, Малая Азия)."""

LETTER_ABBREVIATIONS = frozenset({("н", "э"), ("т", "е"), ("т", "к"), ("т", "д"), ("т", "п")})
"""Abbreviations of single letters that are not initials (н. э., т. е.)."""

INSTITUTION_NOUNS = frozenset(
    """империя университет институт академия училище гимназия лицей техникум консерватория
    филармония завод комбинат дума коммуна собор лавра кремль вокзал битва сражение море
    озеро залив пролив канал хребет полуостров низменность равнина нагорье плато улица
    площадь проспект переулок бульвар набережная шоссе""".split()
)
"""Nouns a place adjective before which usually begins a proper name (Казанский университет)."""

EPITHETS = frozenset(
    """великий грозный мудрый безумный святой тишайший кроткий благочестивый первый второй
    третий четвертый пятый шестой седьмой восьмой девятый десятый""".split()
)
"""Epithets and ordinals written with a capital after a ruler's name (Пётр Первый)."""

NAMED_NOUNS = REGION_NOUNS | INSTITUTION_NOUNS

COMMON_REGION_ADJECTIVES = frozenset({"городской", "сельский", "морской", "соседний"})

SHORT_NAME = 3
SHORT_NAME_SCORE = 0.9
"""A name of at most SHORT_NAME letters takes a capital only when its name parses score this
much: short names (Юн, Ис, Ири) are what a misrecognised common word most often becomes."""


@dataclass(frozen=True)
class CasingRules:
    """The stage's options as the rules use them (defaults live in :class:`CasingStage`)."""

    min_score: float
    names: bool
    keep_existing: bool
    quotes: bool
    unknown_words: bool
    forms: FormIndex | None
    vocabulary: FormIndex | None


@dataclass
class _Plan:
    """Per word: the casing to apply, whether a sentence-start capital may change it."""

    pattern: list[str | None]
    locked: list[bool]


def restore_casing(
    texts: Sequence[str], rules: CasingRules, *, starts: Sequence[bool] = ()
) -> list[str]:
    """Texts of words with capitals restored; ``starts`` marks words that begin a new turn."""
    tokens = [split_token(t) for t in texts]
    lowers = [t.key for t in tokens]
    keep = [rules.keep_existing and t.has_capitals for t in tokens]
    plan = _Plan([None] * len(tokens), [False] * len(tokens))
    limits = _phrase_limits(tokens)
    if rules.vocabulary:
        _apply_forms(rules.vocabulary, lowers, limits, plan, lock=True)
    if rules.forms:
        _apply_forms(rules.forms, lowers, limits, plan, lock=False)
    if rules.names:
        _apply_words(tokens, lowers, rules, plan)
        _apply_patterns(tokens, lowers, rules.min_score, plan)
    initials = _initials(tokens, lowers, plan)
    sentence = _sentence_starts(tokens, lowers, starts, rules.quotes, initials)
    result = []
    for i, token in enumerate(tokens):
        if keep[i] or not token.core:
            result.append(token.text)
            continue
        core = token.lower
        pattern = plan.pattern[i]
        if pattern is not None:
            core = apply_case(core, pattern)
        if sentence[i] and not plan.locked[i]:
            core = apply_case(core, "title")
        result.append(token.prefix + core + token.suffix)
    return result


# ---------------------------------------------------------------- written forms


def _phrase_limits(tokens: Sequence[Token]) -> list[int]:
    """For each word, the index after the last word a phrase starting there may cover:
    phrases stop at punctuation between words."""
    limits = [0] * len(tokens)
    end = len(tokens)
    for i in range(len(tokens) - 1, -1, -1):
        token = tokens[i]
        if token.suffix or not token.core or (i + 1 < len(tokens) and tokens[i + 1].prefix):
            end = i + 1
        limits[i] = end
    return limits


def _apply_forms(
    index: FormIndex, lowers: Sequence[str], limits: Sequence[int], plan: _Plan, *, lock: bool
) -> None:
    i = 0
    while i < len(lowers):
        if plan.pattern[i] is not None or not lowers[i]:
            i += 1
            continue
        form: Form | None = index.match(lowers, i, limits[i])
        if form is None:
            i += 1
            continue
        for offset, written in enumerate(form.words):
            plan.pattern[i + offset] = written
            plan.locked[i + offset] = lock and written != written.lower()
        i += len(form.words)


# ---------------------------------------------------------------- single words


def _apply_words(
    tokens: Sequence[Token], lowers: Sequence[str], rules: CasingRules, plan: _Plan
) -> None:
    for i, word in enumerate(lowers):
        if plan.pattern[i] is None and tokens[i].has_letters:
            plan.pattern[i] = word_casing(word, rules.min_score, unknown=rules.unknown_words)


def word_casing(word: str, min_score: float, *, unknown: bool = True) -> str | None:
    """The casing a lowercase word takes on its own: a written form, ``"title"``,
    ``"upper"`` or None (lowercase)."""
    if "-" in word.strip("-"):
        return _hyphenated_casing(word, min_score)
    if not word.isalpha():
        return None
    facts = analyse(word)
    if facts.latin:
        if len(word) == 1 or word in LATIN_FUNCTION_WORDS:
            return None  # a variable (n, i) or "of", "de": a lone numeral is left to context
        return "upper" if facts.roman >= min_score else "title"
    if not facts.known and looks_misspelt(word):
        return None  # one edit from a known word: a recognition error, not a name
    if facts.vowelless and not facts.known and len(word) > 1:
        return "upper"  # an unknown word without vowels is read letter by letter: ГТРК
    if not facts.known and not unknown:
        return None  # pymorphy3's guesses for a word it does not know: often a misspelt word
    if facts.acronym >= min_score:
        return "upper"
    if facts.proper >= min_score and len(word) > SHORT_NAME:
        return "title"
    if facts.proper >= max(min_score, SHORT_NAME_SCORE):
        return "title"  # a short name (Юн, Ис) must be the dictionary's first reading
    return unknown_word_casing(word) if unknown else None


def _hyphenated_casing(word: str, min_score: float) -> str | None:
    parts = word.split("-")
    whole = analyse(word)
    proper = [bool(p) and analyse(p).proper >= min_score for p in parts]
    if whole.proper >= min_score and whole.known:
        titled = [i == 0 or (p not in HYPHEN_PARTICLES and len(p) > 1) for i, p in enumerate(parts)]
    elif all(proper):
        titled = proper
    else:
        return None
    return "-".join(apply_case(p, "title") if t else p for p, t in zip(parts, titled, strict=True))


# ---------------------------------------------------------------- patterns over words


def _apply_patterns(
    tokens: Sequence[Token], lowers: Sequence[str], min_score: float, plan: _Plan
) -> None:
    joined = [
        i + 1 < len(tokens) and not tokens[i].suffix and not tokens[i + 1].prefix
        for i in range(len(tokens))
    ]
    _lone_roman_numerals(tokens, lowers, plan)
    _place_adjectives(lowers, joined, plan)
    _epithets(lowers, joined, min_score, plan)
    for i in range(len(tokens) - 1):
        if plan.pattern[i] is not None or not joined[i] or pos(lowers[i]) != "ADJF":
            continue
        following = lowers[i + 1]
        if (
            best_lemma(lowers[i]) in DIRECTION_ADJECTIVES
            and plan.pattern[i + 1] == "title"
            and analyse(following).place >= min_score
        ):
            plan.pattern[i] = "title"


def _lone_roman_numerals(tokens: Sequence[Token], lowers: Sequence[str], plan: _Plan) -> None:
    """Пётр i, v век: a lone i, v or x is a numeral after a name or before век, съезд..."""
    for i, word in enumerate(lowers):
        if len(word) == 1 and word in "ivx" and plan.pattern[i] is None:
            after_name = i > 0 and plan.pattern[i - 1] == "title" and not tokens[i - 1].suffix
            before_noun = i + 1 < len(lowers) and best_lemma(lowers[i + 1]) in ROMAN_NOUNS
            if after_name or before_noun:
                plan.pattern[i] = "upper"


def _epithets(lowers: Sequence[str], joined: Sequence[bool], min_score: float, plan: _Plan) -> None:
    """Пётр Великий, Карл V Мудрый, Александр Невский: an epithet or ordinal after a name."""
    for i in range(1, len(lowers)):
        name = i - 1
        if plan.pattern[name] == "upper" and name > 0 and joined[name - 1]:
            name -= 1  # a Roman numeral between: Карла V мудрого
        if not joined[i - 1] or not joined[name] or plan.pattern[i] is not None:
            continue
        if plan.pattern[name] != "title" or analyse(lowers[name]).given < min_score:
            continue
        word = lowers[i]
        if best_lemma(word) in EPITHETS or _is_place_adjective(word):
            if pos(word) == "ADJF" and agree(lowers[name], word):
                plan.pattern[i] = "title"


def _place_adjectives(lowers: Sequence[str], joined: Sequence[bool], plan: _Plan) -> None:
    """Вологодской области, Ленинградский металлургический техникум: the first place-like
    ``-ский`` adjective before a region or institution noun begins its name."""
    for j, word in enumerate(lowers):
        lemma = best_lemma(word)
        if lemma not in NAMED_NOUNS or pos(word) != "NOUN":
            continue
        if lemma in INSTITUTION_NOUNS and not singular(word):
            continue  # российские университеты: a kind, not a name
        first = None
        i = j - 1
        while i >= 0 and j - i <= 3 and joined[i] and pos(lowers[i]) == "ADJF":
            if _is_place_adjective(lowers[i]):
                first = i
            i -= 1
        if first is not None and plan.pattern[first] is None:
            plan.pattern[first] = "title"


def _is_place_adjective(word: str) -> bool:
    lemma = best_lemma(word)
    return (
        lemma.endswith(("ский", "цкий", "ской"))
        and not lemma.endswith("ический")
        and lemma not in COMMON_REGION_ADJECTIVES
    )


def _initials(tokens: Sequence[Token], lowers: Sequence[str], plan: _Plan) -> list[bool]:
    """Single letters with a period before a name (а. с. пушкин); they take capitals."""
    result = [_is_initial(tokens, lowers, i, plan) for i in range(len(tokens))]
    for i, initial in enumerate(result):
        if initial:
            plan.pattern[i] = "title"
    return result


def _is_initial(tokens: Sequence[Token], lowers: Sequence[str], i: int, plan: _Plan) -> bool:
    token = tokens[i]
    if len(lowers[i]) != 1 or not lowers[i].isalpha() or token.suffix != ".":
        return False
    j = i + 1
    while j < len(tokens) and len(lowers[j]) == 1 and tokens[j].suffix == ".":
        j += 1
    if j >= len(tokens):
        return False
    if any((lowers[k - 1], lowers[k]) in CLOSING_ABBREVIATIONS for k in range(i + 1, j)):
        return False
    if (lowers[i], lowers[j - 1]) in LETTER_ABBREVIATIONS:
        return False
    return plan.pattern[j] == "title" and analyse(lowers[j]).proper > 0


# ---------------------------------------------------------------- sentence starts


def _sentence_starts(
    tokens: Sequence[Token],
    lowers: Sequence[str],
    starts: Sequence[bool],
    quotes: bool,
    initials: Sequence[bool],
) -> list[bool]:
    """Which words begin a sentence (or a quotation, when ``quotes`` is on)."""
    result = [False] * len(tokens)
    pending = True
    soft = False  # the pending start came after "?", "!" or a closing abbreviation
    for i, token in enumerate(tokens):
        if i < len(starts) and starts[i]:
            pending, soft = True, False
        if token.is_dash and soft:
            pending = soft = False  # «Где? -- спросил он.»
        elif token.is_dash and i > 0 and tokens[i - 1].text.endswith(":"):
            pending = True  # direct speech: Он сказал: -- Пойдём.
        if token.core:
            result[i] = token.has_letters and (pending or (quotes and token.opens_quote))
            pending = soft = False
        mark = token.final_mark
        if mark == "." and token.core and _is_abbreviation(lowers[i], initials[i]):
            previous = lowers[i - 1] if i > 0 else ""
            if (previous, lowers[i]) in CLOSING_ABBREVIATIONS or lowers[i] in {"т.д", "т.п"}:
                pending, soft = True, True
        elif mark:
            pending, soft = True, mark != "."
    return result


def _is_abbreviation(word: str, initial: bool) -> bool:
    return initial or word in ABBREVIATIONS or ("." in word and word.replace(".", "").isalpha())
