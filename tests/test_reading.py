"""The reading layer: turns, sentences and paragraphs of a transcript, with times and speakers."""

from __future__ import annotations

import pytest

from asr_pipeline import Segment, Transcript, Word
from asr_pipeline.reading import Paragraph, Sentence, Turn, clock, ends_sentence, paragraphs
from postprocess.numbers import NumbersStage


def words(*items: tuple[str, float, float]) -> tuple[Word, ...]:
    return tuple(Word(text, start, end, 0.9) for text, start, end in items)


def call() -> Transcript:
    """A short call: the operator's number "двадцать пятого" is merged by the numbers stage
    into one word spanning both; punctuation and capitals are then set as the punctuation and
    casing stages would. Segments are deliberately out of time order."""
    operator = Segment(
        0.0,
        10.5,
        words(
            ("здравствуйте", 0.0, 0.8),
            ("приходите", 1.0, 1.5),
            ("двадцать", 1.6, 2.0),
            ("пятого", 2.1, 2.6),  # 1.4 s before the next word; 2.0 s after "двадцать"
            ("вам", 4.0, 4.3),
            ("удобно", 4.4, 5.0),  # a sentence end, then 2 s of silence
            ("записываю", 7.0, 7.6),  # 2 s of silence, but in mid-sentence
            ("ваш", 9.6, 9.9),
            ("номер", 10.0, 10.5),
        ),
        speaker="Оператор",
    )
    client = Segment(
        11.0, 12.0, words(("да", 11.0, 11.3), ("спасибо", 11.4, 12.0)), speaker="Клиент"
    )
    goodbye = Segment(
        12.5, 13.5, words(("до", 12.5, 12.8), ("свидания", 12.9, 13.5)), speaker="Оператор"
    )
    raw = Transcript(segments=(operator, goodbye, client), source="call.wav", duration=14.0)
    merged = NumbersStage()(raw)
    assert [w.text for w in merged.segments[0].words][2] == "25-го"
    return merged.with_texts(
        "Здравствуйте. Приходите 25-го. Вам удобно? Записываю, ваш номер. "
        "До свидания. Да, спасибо.".split()
    )


def summary(items: list) -> list[tuple[str | None, int, float, float, str]]:
    return [(p.speaker, p.turn, p.start, p.end, p.text) for p in items]


def test_the_numbers_stage_merges_the_number_into_one_timed_word() -> None:
    number = call().segments[0].words[2]
    assert (number.text, number.start, number.end) == ("25-го.", 1.6, 2.6)


def test_turns_follow_time_and_change_with_the_speaker() -> None:
    turns = call().turns()
    assert all(isinstance(t, Turn) for t in turns)
    assert summary(turns) == [
        (
            "Оператор",
            0,
            0.0,
            10.5,
            "Здравствуйте. Приходите 25-го. Вам удобно? Записываю, ваш номер.",
        ),
        ("Клиент", 1, 11.0, 12.0, "Да, спасибо."),
        ("Оператор", 2, 12.5, 13.5, "До свидания."),
    ]


def test_sentences_end_at_punctuation_and_at_a_turn() -> None:
    sentences = call().sentences()
    assert all(isinstance(s, Sentence) for s in sentences)
    assert summary(sentences) == [
        ("Оператор", 0, 0.0, 0.8, "Здравствуйте."),
        ("Оператор", 0, 1.0, 2.6, "Приходите 25-го."),
        ("Оператор", 0, 4.0, 5.0, "Вам удобно?"),
        ("Оператор", 0, 7.0, 10.5, "Записываю, ваш номер."),
        ("Клиент", 1, 11.0, 12.0, "Да, спасибо."),
        ("Оператор", 2, 12.5, 13.5, "До свидания."),
    ]
    unpunctuated = Transcript.from_text("раз два три").sentences()
    assert [s.text for s in unpunctuated] == ["раз два три"]


def test_paragraphs_break_at_a_sentence_end_after_a_long_pause() -> None:
    result = call().paragraphs()
    assert all(isinstance(p, Paragraph) for p in result)
    assert summary(result) == [
        ("Оператор", 0, 0.0, 5.0, "Здравствуйте. Приходите 25-го. Вам удобно?"),
        ("Оператор", 0, 7.0, 10.5, "Записываю, ваш номер."),
        ("Клиент", 1, 11.0, 12.0, "Да, спасибо."),
        ("Оператор", 2, 12.5, 13.5, "До свидания."),
    ]
    assert [p.first_of_turn for p in result] == [True, False, True, True]
    assert [s.text for s in result[0].sentences] == [
        "Здравствуйте.",
        "Приходите 25-го.",
        "Вам удобно?",
    ]


def test_the_pause_is_measured_from_the_end_of_a_merged_number() -> None:
    # 1.4 s after "25-го." (which ends with "пятого"): a break only with a shorter pause_s.
    texts = [p.text for p in call().paragraphs(pause_s=1.0)]
    assert texts[:3] == ["Здравствуйте. Приходите 25-го.", "Вам удобно?", "Записываю, ваш номер."]
    texts = [p.text for p in call().paragraphs(pause_s=2.5)]
    assert texts[0] == "Здравствуйте. Приходите 25-го. Вам удобно? Записываю, ваш номер."


def test_paragraphs_end_at_a_sentence_end_past_max_chars() -> None:
    segment = Segment(
        0.0,
        3.0,
        words(("Раз", 0.0, 0.2), ("два.", 0.3, 0.5), ("Три", 0.6, 0.8), ("четыре.", 0.9, 1.0)),
    )
    transcript = Transcript(segments=(segment,))
    assert [p.text for p in paragraphs(transcript, max_chars=5)] == ["Раз два.", "Три четыре."]
    assert [p.text for p in paragraphs(transcript, max_chars=0)] == ["Раз два. Три четыре."]


def test_without_punctuation_a_long_pause_ends_a_paragraph() -> None:
    segment = Segment(0.0, 5.0, words(("раз", 0.0, 0.5), ("два", 2.5, 3.0), ("три", 3.1, 3.5)))
    assert [p.text for p in Transcript(segments=(segment,)).paragraphs()] == ["раз", "два три"]


def test_empty_and_unspoken_segments_give_nothing() -> None:
    transcript = Transcript(segments=(Segment(0.0, 1.0, speaker="Клиент"),))
    assert transcript.turns() == transcript.sentences() == transcript.paragraphs() == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("конец.", True), ("да?»", True), ("так…", True), ("т.е", False), ("сказал:", False)],
)
def test_ends_sentence(text: str, expected: bool) -> None:
    assert ends_sentence(text) is expected


def test_clock_rounds_down_to_whole_seconds() -> None:
    assert [clock(s) for s in (0.0, 59.999, 754.2, 3600.0)] == [
        "00:00:00",
        "00:00:59",
        "00:12:34",
        "01:00:00",
    ]
