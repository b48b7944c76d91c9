"""The numbers stage: house conventions, the dev set, timing merges, punctuation and capitals."""

from __future__ import annotations

from pathlib import Path

import pytest

from asr_pipeline.errors import ConfigError
from asr_pipeline.registry import stages
from asr_pipeline.types import Segment, Transcript, Word
from postprocess import normalize_numbers
from postprocess.numbers import NumbersStage

DEV_SET = Path(__file__).parent / "data" / "itn_dev.tsv"

# One group per rule of docs/numbers.md (itn-conventions.md), spoken -> written (editorial).
CONVENTIONS = {
    "1 cardinals of ten and more, grouping": [
        ("сорок семь", "47"),
        ("двенадцать тысяч пятьсот", "12 500"),
        ("один миллион сто пятьдесят шесть тысяч сто семьдесят три", "1 156 173"),
        ("тысяча пятьсот", "1500"),
        ("две тысячи двадцать четыре", "2024"),
        ("сто тысяч", "100 000"),
    ],
    "2 small cardinals stay words unless in context": [
        ("два человека", "два человека"),
        ("один из них", "один из них"),
        ("трое", "трое"),
        ("три килограмма", "3 килограмма"),
        ("семь рублей", "7 рублей"),
        ("квартира четыре", "квартира 4"),
        ("автобус номер девять", "автобус номер 9"),
        ("дом пять корпус два", "дом 5 корпус 2"),
        ("от трех до шести метров", "от 3 до 6 метров"),
        ("от пяти до десяти тысяч рублей", "от 5000 до 10 000 рублей"),
        ("от трех до пяти миллиардов", "от 3 до 5 млрд"),
        ("в два раза", "в два раза"),
        ("пять процентов", "5 %"),
    ],
    "3 inflected cardinals": [
        ("сорока семи", "47"),
        ("с двумястами", "с 200"),
        ("о двадцати двух случаях", "о 22 случаях"),
        ("с пятьюдесятью тысячами", "с 50 000"),
    ],
    "4 ordinals with endings": [
        ("на шестнадцатом", "на 16-м"),
        ("тридцатые", "30-е"),
        ("одиннадцатый", "11-й"),
        ("двенадцатой", "12-й"),
        ("двадцать пятого", "25-го"),
        ("сороковому", "40-му"),
        ("тридцатых", "30-х"),
        ("двадцатыми", "20-ми"),
        ("двадцать первая", "21-я"),
        ("пятнадцатое", "15-е"),
        ("сорок первую", "41-ю"),
        ("второй этаж", "второй этаж"),
        ("в пятом ряду", "в пятом ряду"),
    ],
    "5 dates, years, decades": [
        ("седьмого ноября", "7 ноября"),
        ("с третьего по девятое марта", "с 3 по 9 марта"),
        ("с двенадцатого по пятнадцатое мая", "с 12 по 15 мая"),
        ("в тысяча девятьсот восьмидесятом году", "в 1980 году"),
        ("две тысячи двадцать третьего года", "2023 года"),
        ("девятого мая тысяча девятьсот сорок пятого", "9 мая 1945"),
        ("в семидесятые", "в 70-е"),
        ("в начале девяностых", "в начале 90-х"),
        ("в девяностые годы", "в 90-е годы"),
        ("на третьем году жизни", "на третьем году жизни"),
    ],
    "6 centuries": [
        ("в семнадцатом веке", "в XVII веке"),
        ("шестой век", "VI век"),
        ("в двадцать первом веке", "в XXI веке"),
        ("с пятнадцатого по семнадцатый век", "с XV по XVII век"),
    ],
    "7 decimals and halves": [
        ("три целых две десятых", "3,2"),
        ("ноль целых пять сотых", "0,05"),
        ("одна целая и две десятитысячных", "1,0002"),
        ("четыре с половиной процента", "4,5 %"),
        ("два с половиной часа", "2,5 часа"),
        ("полтора часа", "полтора часа"),
        ("половина", "половина"),
        ("треть", "треть"),
        ("четверть", "четверть"),
    ],
    "8 millions and billions, тысяча": [
        ("семь миллионов", "7 млн"),
        ("шесть с половиной миллиардов", "6,5 млрд"),
        ("два миллиона триста тысяч", "2 300 000"),
        ("три целых две десятых миллиона", "3,2 млн"),
        ("около двух миллионов", "около 2 млн"),
        ("свыше тысячи", "свыше 1000"),
        ("тысячу рублей", "1000 рублей"),
        ("тысячи людей", "тысячи людей"),
        ("сотни писем", "сотни писем"),
        ("десятки раз", "десятки раз"),
        ("миллионы зрителей", "миллионы зрителей"),
    ],
    "9 percent": [
        ("тридцать процентов", "30 %"),
        ("с пятью процентами", "с 5 %"),
        ("на все сто процентов уверен", "на все 100 % уверен"),
        ("в девяноста процентах случаев", "в 90 % случаев"),
    ],
    "10 money": [
        ("сорок долларов", "40 долларов"),
        ("два рубля десять копеек", "2 рубля 10 копеек"),
        ("пять евро", "5 евро"),
    ],
    "11 clock times": [
        ("в одиннадцать пятнадцать", "в 11:15"),
        ("в двадцать ноль ноль", "в 20:00"),
        ("в шесть ноль пять", "в 6:05"),
        ("в восемь часов вечера", "в 8 часов вечера"),
        ("к семи вечера", "к 7 вечера"),
        ("до двух ночи", "до 2 ночи"),
        ("в половине девятого", "в половине девятого"),
        ("без десяти шесть", "без десяти шесть"),
        ("в полдень", "в полдень"),
        ("три дня", "три дня"),
    ],
    "12 measures and negatives": [
        ("двенадцать километров", "12 километров"),
        ("минус семь градусов", "-7 градусов"),
        ("один метр двадцать сантиметров", "1 метр 20 сантиметров"),
        ("пять квадратных метров", "5 квадратных метров"),
        ("минус двадцать пять тысяч тридцать семь", "-25 037"),
    ],
    "13 phone numbers": [
        (
            "восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь",
            "8 916 123-45-67",
        ),
        (
            "плюс семь девятьсот двадцать пять триста десять двадцать ноль пять",
            "+7 925 310-20-05",
        ),
        ("восемь восемьсот двести пятьдесят ноль ноль ноль ноль", "8 800 250-00-00"),
        ("сто двенадцать", "112"),
    ],
    "14 scores": [
        ("со счетом три два", "со счетом 3:2"),
        ("со счётом один ноль", "со счётом 1:0"),
        ("пятьдесят на пятьдесят", "50 на 50"),
    ],
    "15 not quantities": [
        ("одна из", "одна из"),
        ("раз два три", "раз два три"),
        ("первым делом", "первым делом"),
        ("двое", "двое"),
        ("пятеро", "пятеро"),
        ("несколько тысяч человек", "несколько тысяч человек"),
    ],
}

CONVENTION_CASES = [
    pytest.param(spoken, written, id=f"{rule.split()[0]}:{spoken}")
    for rule, cases in CONVENTIONS.items()
    for spoken, written in cases
]


@pytest.mark.parametrize(("spoken", "written"), CONVENTION_CASES)
def test_conventions(spoken: str, written: str) -> None:
    assert normalize_numbers(spoken) == written


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("встречаемся девять тридцать у входа", "встречаемся 9:30 у входа"),
        ("десять пятнадцать человек", "10 15 человек"),
        ("через два часа", "через два часа"),
        ("в две тысячи девятом", "в 2009-м"),
        ("около миллиона человек", "около миллиона человек"),
        ("один миллион", "1 млн"),
        ("налейте ноль пять литра", "налейте 0,5 литра"),
        ("три и две десятых процента", "3,2 %"),
        ("пять семь метров", "5 7 метров"),
        ("в восемнадцатом девятнадцатом веках", "в XVIII XIX веках"),
        ("со счетом сто десять сто пять", "со счетом 110:105"),
        ("пять минут девятого", "пять минут девятого"),
        ("в половине двенадцатого", "в половине двенадцатого"),
        ("2 миллиона 200 тысяч", "2 миллиона 200 тысяч"),
        ("с девяти до восемнадцати часов", "с 9 до 18 часов"),
        ("три десятых", "три десятых"),
        ("пять десятых процента", "0,5 %"),
        ("я люблю свою семью", "я люблю свою семью"),
        ("восемь восемьсот двести ноль ноль", "восемь 800 200 ноль ноль"),
    ],
)
def test_decisions_where_the_conventions_are_silent(spoken: str, written: str) -> None:
    assert normalize_numbers(spoken) == written


def test_docs_examples_run() -> None:
    import doctest

    docs = Path(__file__).parent.parent / "docs" / "numbers.md"
    result = doctest.testfile(
        str(docs), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted >= 4 and result.failed == 0


def _dev_cases() -> list[tuple[str, str]]:
    cases = []
    for line in DEV_SET.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            spoken, written = line.split("\t")
            cases.append((spoken, written))
    return cases


def test_dev_set_exact_rate() -> None:
    cases = _dev_cases()
    assert len(cases) >= 300
    failures = [(s, w, normalize_numbers(s)) for s, w in cases]
    failures = [f for f in failures if f[1] != f[2]]
    for spoken, want, got in failures:
        print(f"{spoken!r}\n  want {want!r}\n  got  {got!r}")
    rate = 1 - len(failures) / len(cases)
    print(f"dev set: {len(cases) - len(failures)}/{len(cases)} exact ({rate:.1%})")
    assert rate >= 0.98


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("второй этаж", "2-й этаж"),
        ("в пятом ряду", "в 5-м ряду"),
        ("два человека", "2 человека"),
        ("двенадцать тысяч пятьсот", "12500"),
        ("семь миллионов", "7000000"),
        ("три целых две десятых миллиона", "3,2 млн"),
        ("в семнадцатом веке", "в 17 веке"),
        ("седьмого ноября", "7 ноября"),
        ("в тысяча девятьсот восьмидесятом году", "в 1980 году"),
        ("вторые", "2-е"),
        ("третьих", "3-х"),
        ("один из них", "один из них"),
        ("трое", "трое"),
        ("тысячи людей", "тысячи людей"),
        ("в девять тридцать", "в 9:30"),
        ("первым делом", "первым делом"),
        ("в первую очередь", "в первую очередь"),
        ("ни одного звонка", "ни одного звонка"),
        ("цифры семь два ноль один", "цифры 7 2 0 1"),
    ],
)
def test_digits_style(spoken: str, written: str) -> None:
    assert normalize_numbers(spoken, style="digits") == written


def test_unknown_style_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="style"):
        normalize_numbers("два", style="roman")
    with pytest.raises(ConfigError, match="style"):
        NumbersStage(style="words")  # type: ignore[arg-type]


# --- punctuation, capitals, ё -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("Двадцать пятого мая, в субботу", "25 мая, в субботу"),
        ("Ему было сорок два года.", "Ему было 42 года."),
        ("Это стоило тридцать.", "Это стоило 30."),
        ("Встреча в девять тридцать?", "Встреча в 9:30?"),
        ("«Двадцать первый век»", "«XXI век»"),
        ("Примерно тридцать процентов, не больше", "Примерно 30 %, не больше"),
        ("В Двадцать Первом Веке", "В XXI Веке"),
        ("двадцать, тридцать", "20, 30"),
        ("Двое Пришли", "Двое Пришли"),
    ],
)
def test_punctuation_and_capitals(spoken: str, written: str) -> None:
    assert normalize_numbers(spoken) == written


def test_punctuation_inside_stops_a_number() -> None:
    assert normalize_numbers("двадцать, пять процентов") == "20, 5 %"
    assert normalize_numbers("сто. двадцать") == "100. 20"


def test_yo_and_ye_are_the_same() -> None:
    for text in ("двадцать четвёртое место", "двадцать четвертое место"):
        assert normalize_numbers(text) == "24-е место"
    assert normalize_numbers("со счётом три один") == "со счётом 3:1"


def test_words_that_are_not_numbers_keep_their_exact_text() -> None:
    text = "Ну   вот,  ЗДРАВСТВУЙТЕ! ёлка Ёж"
    assert normalize_numbers(text) == "Ну вот, ЗДРАВСТВУЙТЕ! ёлка Ёж"
    assert normalize_numbers("") == ""


# --- the stage on transcript words -------------------------------------------------------------


def _timed(*items: tuple[str, float, float]) -> Transcript:
    words = tuple(Word(t, s, e, 0.9) for t, s, e in items)
    return Transcript(segments=(Segment(words[0].start, words[-1].end, words),))


def test_stage_merges_a_number_into_one_timed_word() -> None:
    transcript = _timed(
        ("мы", 0.0, 0.2),
        ("встретились", 0.2, 0.8),
        ("двадцать", 0.9, 1.2),
        ("пятого", 1.2, 1.6),
        ("мая", 1.6, 1.9),
        ("две", 2.0, 2.2),
        ("тысячи", 2.2, 2.5),
        ("двадцать", 2.5, 2.8),
        ("третьего", 2.8, 3.3),
        ("года", 3.3, 3.6),
    )
    out = NumbersStage()(transcript)
    assert [w.text for w in out.words] == ["мы", "встретились", "25", "мая", "2023", "года"]
    assert (out.words[2].start, out.words[2].end) == (0.9, 1.6)
    assert (out.words[4].start, out.words[4].end) == (2.0, 3.3)
    assert out.words[0] == transcript.words[0]
    assert out.words[3] == transcript.words[4]


def test_stage_keeps_scores_and_takes_the_lowest() -> None:
    words = (Word("сорок", 1.0, 1.3, 0.9), Word("семь", 1.3, 1.6, 0.4))
    out = NumbersStage()(Transcript(segments=(Segment(1.0, 1.6, words),)))
    assert out.words == (Word("47", 1.0, 1.6, 0.4),)


def test_stage_single_word_number_keeps_its_timing() -> None:
    transcript = _timed(("нас", 0.0, 0.3), ("двенадцать", 0.3, 0.9))
    out = NumbersStage()(transcript)
    assert out.words[1] == Word("12", 0.3, 0.9, 0.9)


def test_stage_punctuation_of_the_last_word_stays_after_the_digits() -> None:
    transcript = _timed(
        ("Ему", 0.0, 0.2), ("было", 0.2, 0.4), ("тридцать", 0.4, 0.8), ("пять,", 0.8, 1.0),
        ("сказал", 1.1, 1.5), ("он", 1.5, 1.6),
    )  # fmt: skip
    out = NumbersStage()(transcript)
    assert out.text == "Ему было 35, сказал он"
    assert out.words[2] == Word("35,", 0.4, 1.0, 0.9)


def test_stage_percent_word_is_part_of_the_merged_word() -> None:
    transcript = _timed(("тридцать", 0.0, 0.4), ("процентов.", 0.4, 1.0))
    out = NumbersStage()(transcript)
    assert out.words == (Word("30 %.", 0.0, 1.0, 0.9),)


def test_stage_works_segment_by_segment() -> None:
    first = Segment(0.0, 1.0, (Word("сорок", 0.0, 0.5), Word("семь", 0.5, 1.0)))
    second = Segment(2.0, 3.0, (Word("семь", 2.0, 2.5), Word("рублей", 2.5, 3.0)))
    out = NumbersStage()(Transcript(segments=(first, second, Segment(4.0, 5.0))))
    assert [s.text for s in out.segments] == ["47", "7 рублей", ""]
    assert out.segments[1].words[0] == Word("7", 2.0, 2.5)


def test_stage_on_untimed_text_matches_normalize_numbers() -> None:
    text = "в тысяча девятьсот восьмидесятом году нас было двое а цена выросла на пять процентов"
    for style in ("editorial", "digits"):
        out = NumbersStage(style=style)(Transcript.from_text(text))
        assert out.text == normalize_numbers(text, style=style)
    assert NumbersStage()(Transcript()) == Transcript()


def test_stage_is_the_registered_numbers_factory() -> None:
    factory = stages.get("numbers")
    assert factory is NumbersStage
    doc = factory.__doc__ or ""
    assert doc.splitlines()[0].strip()
    assert "Options:" in doc and "style:" in doc


# --- the lexicon --------------------------------------------------------------------------------


def test_lexicon_holds_every_form_and_no_ordinary_word() -> None:
    from postprocess.numbers.lexicon import lexicon

    lex = lexicon()
    for form in ("двумястами", "сорока", "тысячами", "миллиардов", "пятисот", "полутора"):
        assert lex.number(form) or form in lex.poltora, form
    for form in ("двадцатыми", "сорокового", "двухсотых", "двухтысячном", "десятитысячных"):
        assert any(w.ordinal for w in lex.number(form)), form
    for word in ("дом", "мая", "раз", "двое", "одни", "сотни", "десятки", "семью", "первейший"):
        assert not lex.number(word), word


def test_no_morphological_parse_at_normalization_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from postprocess.numbers.lexicon import lexicon

    morph = lexicon()._morph
    calls: list[str] = []
    original = morph.parse
    monkeypatch.setattr(morph, "parse", lambda word: calls.append(word) or original(word))
    normalize_numbers("в тысяча девятьсот восьмидесятом году мы купили дом за сорок тысяч рублей")
    assert calls == []


def test_pipeline_builds_the_stage_by_name_with_options() -> None:
    from asr_pipeline import Pipeline

    text = "на втором этаже сорок семь комнат"
    editorial = Pipeline().add_stage("numbers")
    digits = Pipeline().add_stage("numbers", config={"style": "digits"})
    assert editorial(Transcript.from_text(text)).text == "на втором этаже 47 комнат"
    assert digits(Transcript.from_text(text)).text == "на 2-м этаже 47 комнат"
    with pytest.raises(ConfigError):
        Pipeline().add_stage("numbers", config={"style": "roman"})
