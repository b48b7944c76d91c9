"""The casing stage: sentence starts, names, acronyms, multi-word names, vocabulary, timings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from asr_pipeline import ConfigError, Pipeline, Segment, Transcript, Word
from asr_pipeline.config import options_of
from postprocess.casing import CasingStage
from postprocess.vocabulary import read_vocabulary

SAMPLE = Path(__file__).parent / "data" / "ru_text_sample.txt"


@pytest.fixture(scope="module")
def stage() -> CasingStage:
    return CasingStage()


def restore(stage: CasingStage, text: str) -> str:
    return stage(Transcript.from_text(text)).text


# ---------------------------------------------------------------- sentence starts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "он пришёл. она ушла? мы остались! они… нет",
            "Он пришёл. Она ушла? Мы остались! Они… Нет",
        ),
        ("всё кончилось... потом началось", "Всё кончилось... Потом началось"),
        ("«это конец.» потом тишина", "«Это конец.» Потом тишина"),
        ("в 1905 г. в городе было тихо", "В 1905 г. в городе было тихо"),
        ("около 200 г. до н. э. на юге строили", "Около 200 г. до н. э. на юге строили"),
        ("т. е. именно так", "Т. е. именно так"),
        ("столы, стулья и т. д. потом ещё", "Столы, стулья и т. д. Потом ещё"),
        ("где он? -- спросила она.", "Где он? -- спросила она."),
        ("1999 год был трудным. 2000 год тоже", "1999 год был трудным. 2000 год тоже"),
    ],
)
def test_sentence_starts_and_abbreviations(stage: CasingStage, text: str, expected: str) -> None:
    assert restore(stage, text) == expected


def test_sentence_starts_alone_when_names_are_off() -> None:
    assert restore(CasingStage(names=False), "вчера иван приехал в москву. там мвд") == (
        "Вчера иван приехал в москву. Там мвд"
    )


# ---------------------------------------------------------------- single words


def test_names_patronymics_surnames_and_places(stage: CasingStage) -> None:
    text = "вчера иван иванович петров приехал из новосибирска в москву, к анне."
    assert restore(stage, text) == (
        "Вчера Иван Иванович Петров приехал из Новосибирска в Москву, к Анне."
    )


def test_common_words_that_can_be_names_stay_lowercase(stage: CasingStage) -> None:
    assert restore(stage, "мы знаем, ли это мир и вера в людей") == (
        "Мы знаем, ли это мир и вера в людей"
    )


def test_acronyms_are_upper_but_consonant_abbreviations_are_not(stage: CasingStage) -> None:
    text = "мвд и фсб сообщили, что сша и оон выделят 5 млн руб. на 10 км дорог в 1990-х гг."
    assert restore(stage, text) == (
        "МВД и ФСБ сообщили, что США и ООН выделят 5 млн руб. на 10 км дорог в 1990-х гг."
    )


def test_roman_numerals(stage: CasingStage) -> None:
    assert restore(stage, "в xix веке пётр i и екатерина ii, а в v веке") == (
        "В XIX веке Пётр I и Екатерина II, а в V веке"
    )
    assert restore(stage, "сочетаний из n по i") == "Сочетаний из n по i"


def test_initials_and_hyphenated_places(stage: CasingStage) -> None:
    assert restore(stage, "а. с. пушкин жил в санкт-петербурге и ростове-на-дону") == (
        "А. С. Пушкин жил в Санкт-Петербурге и Ростове-на-Дону"
    )


def test_place_adjectives_before_institutions(stage: CasingStage) -> None:
    text = "после сталинградской битвы он учился в казанском университете на тверской улице"
    assert restore(stage, text) == (
        "После Сталинградской битвы он учился в Казанском университете на Тверской улице"
    )
    text = "российские университеты и педагогический институт"
    assert restore(stage, text) == "Российские университеты и педагогический институт"


def test_epithets_after_names_agree_with_them(stage: CasingStage) -> None:
    text = "при петре великом и карле v мудром жил александр невский. иван первым пришёл"
    assert restore(stage, text) == (
        "При Петре Великом и Карле V Мудром жил Александр Невский. Иван первым пришёл"
    )


def test_direct_speech_after_a_colon_and_dash(stage: CasingStage) -> None:
    assert restore(stage, "он сказал: -- пойдём. она ответила: «нет»") == (
        "Он сказал: -- Пойдём. Она ответила: «Нет»"
    )


def test_unknown_words_that_look_like_names_in_plain_text_only(stage: CasingStage) -> None:
    text = "тренер мактэвиш и супергероев, подбассейн, а также раскажу"
    assert restore(stage, text) == "Тренер Мактэвиш и супергероев, подбассейн, а также раскажу"
    assert restore(CasingStage(unknown_words=False), text) == (
        "Тренер мактэвиш и супергероев, подбассейн, а также раскажу"
    )
    recognised = Transcript(
        segments=(Segment(0.0, 2.0, tuple(Word(w, 0.0, 0.1, 0.8) for w in text.split())),)
    )
    assert stage(recognised).text == "Тренер мактэвиш и супергероев, подбассейн, а также раскажу"
    assert CasingStage(unknown_words=True)(recognised).text.startswith("Тренер Мактэвиш")


@pytest.mark.parametrize("unknown_words", [False, True])
def test_misspelt_recognition_output_takes_no_capitals(unknown_words: bool) -> None:
    stage = CasingStage(unknown_words=unknown_words)
    assert restore(stage, "пожалуйста приходити зарание отчет нужноот в москве") == (
        "Пожалуйста приходити зарание отчет нужноот в Москве"
    )
    assert restore(stage, "передал гтрк") == "Передал ГТРК"  # no vowels: read letter by letter


def test_short_names_need_a_strong_reading(stage: CasingStage) -> None:
    assert restore(stage, "это юн а не анна") == "Это юн а не Анна"


def test_region_adjectives(stage: CasingStage) -> None:
    assert restore(stage, "деревня в бабушкинском районе вологодской области") == (
        "Деревня в Бабушкинском районе Вологодской области"
    )
    assert restore(stage, "в городском округе и сельском районе") == (
        "В городском округе и сельском районе"
    )


# ---------------------------------------------------------------- multi-word names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("российская федерация большая", "Российская Федерация большая"),
        ("законы российской федерации", "Законы Российской Федерации"),
        ("в российской федерации", "В Российской Федерации"),
        ("гордимся российской федерацией", "Гордимся Российской Федерацией"),
        ("после великой отечественной войны", "После Великой Отечественной войны"),
        ("в великую отечественную войну", "В Великую Отечественную войну"),
        ("посол соединённых штатов америки", "Посол Соединённых Штатов Америки"),
        ("посол соединенных штатов", "Посол Соединенных Штатов"),
        ("депутаты государственной думы", "Депутаты Государственной Думы"),
        ("у берегов чёрного моря", "У берегов Чёрного моря"),
        ("в организации объединённых наций", "В Организации Объединённых Наций"),
    ],
)
def test_multi_word_names_in_every_case(stage: CasingStage, text: str, expected: str) -> None:
    assert restore(stage, text) == expected


def test_multi_word_names_do_not_cross_punctuation(stage: CasingStage) -> None:
    assert restore(stage, "это чёрное, море синее") == "Это чёрное, море синее"


def test_multi_word_names_need_the_shipped_lists() -> None:
    assert restore(CasingStage(lexicon=False), "законы российской федерации") == (
        "Законы российской федерации"
    )


# ---------------------------------------------------------------- vocabulary


@pytest.fixture
def vocabulary(tmp_path: Path) -> Path:
    path = tmp_path / "vocabulary.txt"
    path.write_text("# brands\nГазпром\n\niPhone\nинтернет\nЯндекс Маркет\n", encoding="utf-8")
    return path


def test_read_vocabulary_skips_comments_and_blank_lines(vocabulary: Path) -> None:
    assert read_vocabulary(vocabulary) == ("Газпром", "iPhone", "интернет", "Яндекс Маркет")


def test_read_vocabulary_names_an_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    with pytest.raises(ConfigError, match="missing.txt"):
        read_vocabulary(missing)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Газпром".encode("cp1251"))
    with pytest.raises(ConfigError, match="latin1.txt.*UTF-8"):
        read_vocabulary(latin1)


def test_vocabulary_overrides_every_rule(vocabulary: Path) -> None:
    stage = CasingStage(vocabulary=str(vocabulary))
    text = "iphone от газпрома. интернет и яндекс маркета нет, как и газпром"
    assert restore(stage, text) == (
        "iPhone от Газпрома. Интернет и Яндекс Маркета нет, как и Газпром"
    )


def test_vocabulary_from_the_config_top_level(vocabulary: Path) -> None:
    pipeline = Pipeline.from_config({"pipeline": ["casing"], "vocabulary": str(vocabulary)})
    assert pipeline(Transcript.from_text("купил iphone")).text == "Купил iPhone"


def test_missing_vocabulary_fails_when_the_stage_is_built(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.txt"):
        CasingStage(vocabulary=str(tmp_path / "nope.txt"))


# ---------------------------------------------------------------- existing casing, transcripts


def test_keep_existing_capitals_from_a_case_model() -> None:
    text = "Вчера Мир изменился. мвд молчит"
    assert restore(CasingStage(), text) == "Вчера Мир изменился. МВД молчит"
    assert restore(CasingStage(keep_existing=False), text) == "Вчера мир изменился. МВД молчит"


def test_timings_scores_and_word_count_are_kept_across_segments(stage: CasingStage) -> None:
    first = (Word("вчера", 0.0, 0.4, 0.9), Word("в", 0.4, 0.5), Word("москве.", 0.5, 1.0, 0.8))
    second = (Word("там", 2.0, 2.3), Word("холодно", 2.3, 2.9), Word("иван", 3.0, 3.2))
    third = (Word("пришёл", 4.0, 4.5),)
    transcript = Transcript(
        (Segment(0.0, 1.0, first), Segment(2.0, 3.2, second), Segment(4.0, 4.5, third))
    )
    result = stage(transcript)
    assert [w.text for w in result.words] == [
        "Вчера",
        "в",
        "Москве.",
        "Там",
        "холодно",
        "Иван",
        "пришёл",
    ]
    assert [(w.start, w.end, w.score) for w in result.words] == [
        (w.start, w.end, w.score) for w in transcript.words
    ]
    assert [len(s.words) for s in result.segments] == [3, 3, 1]


def test_a_new_speaker_starts_a_sentence(stage: CasingStage) -> None:
    segments = (
        Segment(0.0, 1.0, (Word("добрый", 0, 0.5), Word("день", 0.5, 1)), speaker="A"),
        Segment(1.0, 2.0, (Word("здравствуйте", 1, 2),), speaker="B"),
    )
    assert stage(Transcript(segments)).text == "Добрый день Здравствуйте"


def test_punctuation_digits_and_symbols_are_left_alone(stage: CasingStage) -> None:
    assert restore(stage, "(москва), «спартак» -- 3:1, 25% и 1990-х; «и т. п.»") == (
        "(Москва), «Спартак» -- 3:1, 25% и 1990-х; «И т. п.»"
    )
    assert stage(Transcript()) == Transcript()


def test_stressed_words_keep_their_marks(stage: CasingStage) -> None:
    assert restore(stage, "тюме́нь -- город. во́дская пяти́на (или пятина)") == (
        "Тюме́нь -- город. Во́дская пяти́на (или пятина)"
    )


# ---------------------------------------------------------------- the factory


def test_every_option_is_documented() -> None:
    options = options_of(CasingStage)
    assert {"vocabulary", "names", "min_score", "keep_existing"} <= set(options)
    assert all(option.help for option in options.values())


def test_min_score_out_of_range_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="min_score"):
        CasingStage(min_score=1.5)


def test_importing_the_stage_does_not_import_torch() -> None:
    code = "import postprocess.casing, sys; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# ---------------------------------------------------------------- real text


def _first_capital(word: str) -> bool:
    letter = re.search(r"[^\W\d_]", word)
    return bool(letter) and letter.group(0).isupper()


@pytest.mark.parametrize(("unknown_words", "goal"), [(None, 0.85), (False, 0.80)])
def test_f1_on_real_sentences(unknown_words: bool, goal: float) -> None:
    stage = CasingStage(unknown_words=unknown_words)
    lines = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line]
    lines = [line for line in lines if not line.startswith("#")]
    assert len(lines) == 300
    chunks = [" ".join(lines[i : i + 5]) for i in range(0, len(lines), 5)]
    tp = fp = fn = 0
    for reference in chunks:
        hypothesis = restore(stage, reference.lower()).split()
        assert len(hypothesis) == len(reference.split())
        for ref, hyp in zip(reference.split(), hypothesis, strict=True):
            truth, guess = _first_capital(ref), _first_capital(hyp)
            tp += truth and guess
            fp += guess and not truth
            fn += truth and not guess
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= goal, (precision, recall, f1)


def test_a_calls_own_terms_join_the_vocabulary_for_that_call_only() -> None:
    from asr_pipeline.terms import call_terms

    pipeline = Pipeline().add_stage("casing")
    spoken = "приходите в зарядье и любим ромашково".split()
    words = tuple(Word(w, i, i + 0.5, 0.9) for i, w in enumerate(spoken))  # recognised words
    transcript = Transcript(segments=(Segment(0.0, 10.0, words),), duration=10.0)
    assert pipeline(transcript).text == "Приходите в зарядье и любим ромашково"
    with call_terms(["Зарядье", "Ромашково"]):
        assert pipeline(transcript).text == "Приходите в Зарядье и любим Ромашково"
    assert pipeline(transcript).text == "Приходите в зарядье и любим ромашково"
