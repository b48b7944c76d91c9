"""Forced alignment: the text as written, spoken forms for the model, the local CTC path over
prescribed log-probabilities, and espeak-ng speech timed against its text with digits."""

from __future__ import annotations

import json
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from asr_pipeline import Transcript
from asr_pipeline.align import spot
from asr_pipeline.align.text import spoken_words, utterances
from asr_pipeline.errors import MissingDependencyError

ALPHABET = set("абвгдежзийклмнопрстуфхцчшщъыьэюяё-")
VOCAB = json.loads((Path(__file__).parent / "fixtures" / "ru_vocab.json").read_text("utf-8"))
LABELS = tuple(sorted(VOCAB, key=VOCAB.get))
SILENT = [0, VOCAB["|"]]
TOLERANCE_S = 0.15


# ---------------------------------------------------------------- text


def test_text_is_kept_as_written_and_spoken_in_the_models_alphabet() -> None:
    pytest.importorskip("num2words")
    found = utterances("Встреча 25 мая в 9:30 — «ЁЛКИ»!\nКто-то пришёл. Всё.", ALPHABET)
    assert [u.text for u in found] == ["Встреча 25 мая в 9:30 — «ЁЛКИ»!", "Кто-то пришёл.", "Всё."]
    tokens = found[0].tokens
    assert [t.text for t in tokens] == ["Встреча", "25", "мая", "в", "9:30 —", "«ЁЛКИ»!"]
    assert [t.spoken for t in tokens] == [
        ("встреча",),
        ("двадцать", "пятого"),  # a day before a month: genitive ordinal
        ("мая",),
        ("в",),
        ("девять", "тридцать"),
        ("елки",) if "ё" not in ALPHABET else ("ёлки",),
    ]
    assert found[1].tokens[0].spoken == ("кто-то",)
    (latin,) = utterances("Hello, world!", ALPHABET)  # nothing to say: kept, to be reported
    assert latin.text == "Hello, world!" and latin.tokens[0].spoken == ()
    assert spoken_words("2024", "", ALPHABET) == ["две", "тысячи", "двадцать", "четыре"]
    assert spoken_words("ёж", "", ALPHABET - {"ё"}) == ["еж"]


def test_digits_without_num2words_name_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "num2words", None)
    assert spoken_words("кот", "", ALPHABET) == ["кот"]
    with pytest.raises(MissingDependencyError, match=r"asr-pipeline\[align\]"):
        spoken_words("25", "", ALPHABET)


# ---------------------------------------------------------------- the local path


def frames(*labels: str) -> np.ndarray:
    probs = np.full((len(labels), len(LABELS)), 0.1 / (len(LABELS) - 1))
    for t, label in enumerate(labels):
        probs[t, VOCAB[label]] = 0.9
    return np.log(probs)


def ids(word: str) -> list[int]:
    return [VOCAB[c] for c in word]


def test_spot_finds_words_anywhere_in_the_window_with_exact_frames() -> None:
    # frames: 0-2 someone else ("да"), 3 |, 4 к, 5 о, 6 <pad>, 7 т, 8 |, 9 н, 10 е, 11-12 <pad>
    lp = frames("д", "<pad>", "а", "|", "к", "о", "<pad>", "т", "|", "н", "е", "<pad>", "<pad>")
    placed = spot(lp, [ids("кот"), ids("не")], SILENT)
    assert placed is not None
    assert placed.spans == [(4, 8), (9, 11)]
    assert (placed.first, placed.end) == (4, 11)
    assert placed.score == pytest.approx(1.0) and placed.word_scores == pytest.approx([1.0, 1.0])


def test_spot_scores_text_the_audio_does_not_contain_low() -> None:
    lp = frames("<pad>", "к", "о", "<pad>", "т", "|", "<pad>")
    assert spot(lp, [ids("кот")], SILENT).score == pytest.approx(1.0)
    elsewhere = spot(lp, [ids("мир")], SILENT)
    assert elsewhere is not None and elsewhere.score < 0.05
    assert spot(lp[:2], [ids("кот")], SILENT) is None  # three letters cannot fit two frames
    assert spot(frames("н", "н"), [ids("нн")], SILENT) is None  # a repeat needs a blank between


# ---------------------------------------------------------------- espeak-ng speech


def speak_case():
    """The recording: a scripted sentence, an unscripted one, a scripted one (module level, so
    that a separate process can run it)."""
    import test_e2e_espeak as e2e

    first = "встреча назначена на двадцать пятого мая в девять тридцать"
    return (
        e2e.pause(0.4)
        + e2e.spoken_with_word_times(first, voice="ru+m3", speed=160)
        + e2e.pause(0.7)
        + e2e.spoken_sentence("за окном идет снег", speed=160)
        + e2e.pause(0.7)
        + e2e.spoken_with_word_times("кот спит на теплой печке", voice="ru+f3", speed=160)
        + e2e.pause(0.5)
    )


@pytest.fixture(scope="module")
def espeak_case():
    pytest.importorskip("num2words")
    e2e = pytest.importorskip("test_e2e_espeak")
    from asr_pipeline import Audio
    from asr_pipeline.align import align
    from asr_pipeline.ctc import CtcStage

    # In its own process: after this text, libespeak-ng reports a stray word event on a later
    # synthesis, which would upset other modules' espeak fixtures in this process.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        spoken = pool.submit(speak_case).result()
    text = (
        "Встреча назначена на 25 мая в 9:30.\n"
        "Этого предложения в записи нет совсем, его никто не произносил!\n"
        "Кот спит на тёплой печке."
    )
    stage = CtcStage(model=str(e2e.MODEL), device="cpu")
    transcript = align(Audio.from_array(spoken.samples), text, stage)
    return spoken, text, transcript, e2e.MODEL


def test_every_word_as_written_lies_inside_espeaks_word_span(espeak_case) -> None:
    spoken, _, transcript, _ = espeak_case
    written = [w.text for w in transcript.words]
    assert written == ["Встреча", "назначена", "на", "25", "мая", "в", "9:30."] + [
        "Кот", "спит", "на", "тёплой", "печке."
    ]  # fmt: skip
    spans = dict(zip(spoken.words, spoken.spans, strict=False))
    expected = [
        spans["встреча"], spans["назначена"], spoken.spans[2],
        (spans["двадцать"][0], spans["пятого"][1]), spans["мая"], spans["в"],
        (spans["девять"][0], spans["тридцать"][1]),
        spans["кот"], spans["спит"], spoken.spans[-3], spans["теплой"], spans["печке"],
    ]  # fmt: skip
    for word, (start, end) in zip(transcript.words, expected, strict=True):
        assert start - TOLERANCE_S <= word.start < word.end <= end + TOLERANCE_S, word
        assert 0.0 <= word.score <= 1.0


def test_text_never_spoken_and_speech_never_written_are_reported(espeak_case) -> None:
    spoken, _, transcript, _ = espeak_case
    report = transcript.metadata.extra["alignment"]
    found = [(u["found"], u["text"][:7]) for u in report["utterances"]]
    assert found == [(True, "Встреча"), (False, "Этого п"), (True, "Кот спи")]
    missing = report["utterances"][1]
    assert missing["score"] < 0.3 <= min(u["score"] for u in report["utterances"][::2])
    assert missing["start"] == transcript.segments[0].end
    assert missing["end"] == transcript.segments[1].start
    (unaligned,) = report["unaligned_audio"]
    snow = [span for word, span in zip(spoken.words, spoken.spans, strict=True) if word == "снег"]
    assert unaligned["start"] < snow[0][1] and unaligned["end"] > snow[0][0]
    assert "идет" in unaligned["heard"]  # what the model heard there ("за ок ном идет снек")
    assert [s.confidence is not None for s in transcript.segments] == [True, True]


def test_log_probs_are_held_for_the_window_not_the_file(
    espeak_case, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asr_pipeline.align as aligner
    from asr_pipeline import Audio
    from asr_pipeline.ctc import CtcStage

    spoken, text, whole, model = espeak_case
    made: list[aligner.Frames] = []

    class Recorded(aligner.Frames):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(aligner, "Frames", Recorded)
    monkeypatch.setattr(aligner, "BLOCK_S", 2.0)  # blocks far shorter than the recording
    stage = CtcStage(model=str(model), device="cpu")
    samples = np.concatenate([spoken.samples] * 6)  # about 50 s: the text, six times over
    again = aligner.align(Audio.from_array(samples), "\n".join([text] * 6), stage, lookahead_s=4)
    report = again.metadata.extra["alignment"]["utterances"]
    assert [u["found"] for u in report] == [True, False, True] * 6
    assert [w.text for w in again.words] == [w.text for w in whole.words] * 6
    (frames,) = made
    total = round(len(samples) / 16_000 / stage.recognizer.frame_s)
    assert frames.known >= 0.95 * total  # the whole recording was seen (a frame less a block)...
    assert frames.peak < total / 2  # ...but never held at once


def test_cli_writes_the_transcript_json_and_reports_what_is_missing(espeak_case, tmp_path) -> None:
    from asr_pipeline.cli import app

    spoken, text, _, model = espeak_case
    audio, script = tmp_path / "talk.wav", tmp_path / "talk.txt"
    sf.write(audio, spoken.samples, 16_000, subtype="PCM_16")
    script.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    arguments = ["align", str(audio), str(script), "-o", str(out), "-f", "json,srt"]
    result = CliRunner().invoke(app, [*arguments, "--model", str(model), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "not found in the audio" in result.output and "Этого предложения" in result.output
    assert "speech with no text" in result.output
    transcript = Transcript.from_json((out / "talk.json").read_text(encoding="utf-8"))
    assert transcript.words[3].text == "25" and (out / "talk.srt").is_file()
    scores = [u["score"] for u in transcript.metadata.extra["alignment"]["utterances"]]
    assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    bad = CliRunner().invoke(app, ["align", str(audio), str(empty), "-o", str(out)])
    assert bad.exit_code == 2 and "the text is empty" in bad.output
