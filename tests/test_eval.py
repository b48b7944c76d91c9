"""``asr-pipeline eval`` and :mod:`asr_pipeline.evaluate`: manifests, normalisation, scores,
reports, saved hypotheses, recognition runs and every malformed-input error."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import jiwer
import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from asr_pipeline import Pipeline, Transcript, Word, register_stage
from asr_pipeline.cli import app
from asr_pipeline.evaluate import (
    Entry,
    ManifestError,
    Normalization,
    evaluate,
    read_manifest,
    score,
    score_file,
)
from asr_pipeline.registry import stages as stage_registry

runner = CliRunner()


class ScriptedAsr:
    """Writes the text scripted for each file stem; fails on stems starting with "broken"."""

    texts: ClassVar[dict[str, str]] = {}

    def __call__(self, transcript: Transcript) -> Transcript:
        stem = Path(str(transcript.source)).stem
        if stem.startswith("broken"):
            raise RuntimeError("the decoder gave up")
        words = ScriptedAsr.texts[stem].split()

        def fill(segment):
            return replace(segment, words=tuple(Word(w, segment.start, segment.end) for w in words))

        return transcript.map_segments(fill)


@pytest.fixture(autouse=True)
def scripted_asr():
    register_stage("t_scripted")(ScriptedAsr)
    yield
    ScriptedAsr.texts.clear()
    stage_registry.unregister("t_scripted")


def wav(path: Path, seconds: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(path.name))
    sf.write(path, 0.1 * rng.standard_normal(int(16_000 * seconds)).astype("float32"), 16_000)
    return path


def write_tsv(path: Path, *rows: str) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, *rows: dict) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def invoke(*args: str | Path):
    return runner.invoke(app, ["eval", *(str(a) for a in args)])


def entry(text: str, **tags: str) -> Entry:
    return Entry("x", "x.wav", Path("x.wav"), text, tags, 2)


def error_line(result) -> str:
    """The one error line a failed command prints."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    return lines[0]


# ---------------------------------------------------------------- normalisation


def test_normalization_defaults_bring_both_sides_to_one_form() -> None:
    norm = Normalization()
    assert norm("«Ёлка», — сказал он…  Кто-то   пришёл!") == "елка сказал он кто-то пришел"
    pairs = [
        ("мне двенадцать лет", "Мне 12 лет."),
        ("двадцать пять тысяч рублей", "25 000 рублей"),
        ("на втором этаже", "на 2-м этаже"),
        ("пять процентов", "5%"),
        ("три целых две десятых", "3,2"),
    ]
    for spoken, written in pairs:
        assert norm(spoken) == norm(written), (spoken, written)


def test_each_normalization_step_can_be_turned_off() -> None:
    text = "Ёлка, двенадцать"
    assert Normalization()(text) == "елка 12"
    assert Normalization(lowercase=False)(text) == "Елка 12"
    assert Normalization(yo=False)(text) == "ёлка 12"
    assert Normalization(punctuation=False)(text) == "елка, 12"
    assert Normalization(numbers=False)(text) == "елка двенадцать"
    off = Normalization(lowercase=False, yo=False, punctuation=False, numbers=False)
    assert off(" Ёлка,\u00a0 двенадцать ") == "Ёлка, двенадцать"


# ---------------------------------------------------------------- scores


def test_one_substitution_scores_by_hand() -> None:
    result = score_file(entry("Мама мыла раму."), "мама мыла рану")
    assert (result.words.substitutions, result.words.deletions, result.words.insertions) == (
        1,
        0,
        0,
    )
    assert result.wer == pytest.approx(1 / 3)
    assert result.cer == pytest.approx(1 / 14)  # one letter of "мама мыла раму"
    assert "S" in result.alignment and "REF: мама мыла раму" in result.alignment


def test_long_alignments_wrap_and_older_jiwer_still_aligns(monkeypatch) -> None:
    reference = " ".join(["слово"] * 40)
    wrapped = score_file(entry(reference), reference + " лишнее").alignment
    assert max(len(line) for line in wrapped.splitlines()) <= 100
    original = jiwer.visualize_alignment

    def without_line_width(output, show_measures=True, skip_correct=True):
        return original(output, show_measures=show_measures, skip_correct=skip_correct)

    monkeypatch.setattr(jiwer, "visualize_alignment", without_line_width)
    unwrapped = score_file(entry(reference), reference + " лишнее").alignment
    assert unwrapped.splitlines()[0] == "REF: " + reference + " " + "*" * len("лишнее")


def test_one_insertion_scores_by_hand() -> None:
    result = score_file(entry("мама мыла раму"), "мама мыла раму утром")
    assert (result.words.substitutions, result.words.deletions, result.words.insertions) == (
        0,
        0,
        1,
    )
    assert result.wer == pytest.approx(1 / 3)
    assert result.cer == pytest.approx(6 / 14)  # " утром" inserted


def test_numbers_in_both_forms_are_no_error_unless_turned_off() -> None:
    same = score_file(entry("Мне двенадцать лет, а ей двадцать пять."), "мне 12 лет а ей 25")
    assert same.wer == 0 and same.cer == 0 and same.alignment == ""
    raw = score_file(entry("мне двенадцать лет"), "мне 12 лет", Normalization(numbers=False))
    assert raw.words.substitutions == 1 and raw.wer == pytest.approx(1 / 3)


def test_overall_is_micro_averaged_and_tags_group_files() -> None:
    entries = [
        Entry("a", "a.wav", Path("a.wav"), "раз два три", {"speaker": "анна"}, 2),
        Entry("b", "b.wav", Path("b.wav"), "один два три четыре пять шесть семь", {}, 3),
        Entry("c", "c.wav", Path("c.wav"), "и ещё", {"speaker": "борис"}, 4),
    ]
    hyps = {
        "a": "раз два",
        "b": "один два три четыре пять шесть семь",
        "c": "и еще вот",
    }
    norm = Normalization(numbers=False)
    report = score(entries, hyps, norm)
    # 1 deletion + 1 insertion over 3 + 7 + 2 words; a per-file mean would be (1/3 + 0 + 1/2) / 3
    assert report.wer == pytest.approx(2 / 12)
    refs = [norm(e.text) for e in entries]
    assert report.wer == pytest.approx(jiwer.wer(refs, [norm(hyps[e.id]) for e in entries]))
    assert [f.entry.id for f in report.files] == ["c", "a", "b"]  # worst first
    tags = report.by_tag()["speaker"]
    assert list(tags) == ["анна", "борис"]
    assert tags["анна"].wer == pytest.approx(1 / 3) and tags["анна"].files == 1
    assert tags["борис"].words.insertions == 1


# ---------------------------------------------------------------- manifests


def test_tsv_and_jsonl_manifests_read_alike(tmp_path: Path) -> None:
    write_tsv(
        tmp_path / "m.tsv",
        "id\taudio\ttext\tspeaker\tnoise",
        "",
        "one\tclips/a.wav\tпривет мир\tанна\t",
        "\tb.wav\tпока\tборис\tшум",
    )
    write_jsonl(
        tmp_path / "m.jsonl",
        {"id": "one", "audio": "clips/a.wav", "text": "привет мир", "speaker": "анна"},
        {"audio": "b.wav", "text": "пока", "speaker": "борис", "noise": "шум"},
    )
    for name in ("m.tsv", "m.jsonl"):
        a, b = read_manifest(tmp_path / name)
        assert (a.id, a.audio, a.text, dict(a.tags)) == (
            "one",
            "clips/a.wav",
            "привет мир",
            {"speaker": "анна"},
        )
        assert a.path == tmp_path / "clips" / "a.wav"
        assert (b.id, dict(b.tags)) == ("b.wav", {"speaker": "борис", "noise": "шум"})
    assert [e.line for e in read_manifest(tmp_path / "m.tsv")] == [3, 4]


def test_nemo_manifest_lines_are_spans_of_their_files(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "m.jsonl",
        {"audio_filepath": "talk.wav", "text": "раз", "offset": 0, "duration": 1.5},
        {"audio_filepath": "talk.wav", "text": "два", "offset": 1.5, "duration": 2, "speaker": "A"},
        {"audio": "whole.wav", "text": "три", "id": "w"},
    )
    first, second, whole = read_manifest(tmp_path / "m.jsonl")
    assert (first.audio, first.path, first.span) == ("talk.wav", tmp_path / "talk.wav", (0, 1.5))
    assert (second.id, second.span, dict(second.tags)) == (
        "talk.wav@1.5-3.5",
        (1.5, 3.5),
        {"speaker": "A"},
    )
    assert first.is_span and not whole.is_span and whole.span == (0.0, None)


def test_a_row_naming_its_source_is_a_whole_clip_cut_from_it(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "m.jsonl",
        {
            "audio_filepath": "audio/talk_00002.wav",
            "text": "два",
            "duration": 2.0,
            "source": "talk.wav",
            "offset": 41.5,
            "confidence": 0.8,
        },
        {"audio_filepath": "talk.wav", "text": "два", "duration": 2.0, "offset": 41.5},
    )
    clip, span = read_manifest(tmp_path / "m.jsonl")
    assert (clip.id, clip.is_span, clip.span) == ("audio/talk_00002.wav", False, (0.0, None))
    assert dict(clip.tags) == {"source": "talk.wav", "confidence": "0.8"}
    assert (span.is_span, span.span) == (True, (41.5, 43.5))
    write_jsonl(
        tmp_path / "bad.jsonl",
        {"audio_filepath": "a.wav", "text": "раз", "source": "talk.wav", "offset": -1},
    )
    with pytest.raises(ManifestError, match="line 1: 'offset'"):
        read_manifest(tmp_path / "bad.jsonl")


class LoudOrQuiet:
    """Says "громко" for audio louder than 0.05 RMS and "тихо" otherwise."""

    def __call__(self, transcript: Transcript) -> Transcript:
        samples = transcript.audio.read()
        loud = float(np.sqrt(np.mean(samples**2))) > 0.05
        word = Word("громко" if loud else "тихо", 0.0, transcript.duration)
        return replace(transcript, segments=(replace(transcript.segments[0], words=(word,)),))


def test_eval_recognises_only_each_span(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    quiet_then_loud = np.concatenate([np.zeros(16_000), 0.3 * rng.standard_normal(24_000)])
    sf.write(tmp_path / "talk.wav", quiet_then_loud.astype("float32"), 16_000)
    manifest = write_jsonl(
        tmp_path / "m.jsonl",
        {"audio_filepath": "talk.wav", "text": "тихо", "offset": 0.0, "duration": 0.9},
        {"audio_filepath": "talk.wav", "text": "громко", "offset": 1.1, "duration": 1.4},
        {"audio_filepath": "talk.wav", "text": "громко", "offset": 3.0, "id": "late"},
    )
    register_stage("t_loudness")(LoudOrQuiet)
    try:
        result = invoke(manifest, "--stages", "t_loudness", "-o", tmp_path / "r.json")
    finally:
        stage_registry.unregister("t_loudness")
    assert result.exit_code == 1, result.output  # the third span starts after the file's end
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["wer"] == 0 and data["files"] == 2
    assert sorted(f["audio_s"] for f in data["per_file"]) == pytest.approx([0.9, 1.4])
    assert data["failed"][0]["id"] == "late" and "after the end" in data["failed"][0]["error"]


MALFORMED = [
    ("m.tsv", "audio\ttext\na.wav\tпривет\nb.wav\n", "line 3: expected 2 tab-separated fields"),
    ("m.tsv", "audio\ttranscript\na.wav\tпривет\n", "line 1: no 'text' column"),
    ("m.tsv", "text\nпривет\n", "line 1: no 'audio' column"),
    ("m.tsv", "audio\ttext\na.wav\t  \n", "line 2: empty reference text for 'a.wav'"),
    ("m.tsv", "audio\ttext\na.wav\t…\n", "line 2: the reference for 'a.wav' is empty once"),
    ("m.tsv", "audio\ttext\na.wav\tраз\na.wav\tдва\n", "line 3: audio file 'a.wav' is already"),
    ("m.jsonl", '{"audio": "a.wav", "text": "раз"}\n{"audio": "b.wav"\n', "line 2: not valid JSON"),
    (
        "m.jsonl",
        '{"audio": "a.wav", "text": "раз"}\n\n{"audio": "b.wav"}\n',
        "line 3: no 'text' key",
    ),
    ("m.jsonl", '["a.wav", "раз"]\n', "line 1: expected a JSON object"),
    ("m.jsonl", '{"audio": "a.wav", "text": ""}\n', "line 1: empty reference text"),
    ("m.tsv", "audio\ttext\toffset\na.wav\tраз\tсекунда\n", "line 2: 'offset' must be a number"),
    ("m.jsonl", '{"audio": "a.wav", "text": "раз", "duration": 0}\n', "'duration' must be a posi"),
    (
        "m.jsonl",
        '{"audio_filepath": "a.wav", "text": "раз", "offset": 1, "duration": 2}\n' * 2,
        "line 2: span of audio file 'a.wav' is already on line 1",
    ),
]


@pytest.mark.parametrize(("name", "content", "message"), MALFORMED)
def test_malformed_manifests_are_one_line_errors(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    wav(tmp_path / "a.wav", 0.5)
    wav(tmp_path / "b.wav", 0.5)
    manifest = tmp_path / name
    manifest.write_text(content, encoding="utf-8")
    result = invoke(manifest, "--stages", "t_scripted")
    assert result.exit_code == 2
    line = error_line(result)
    assert str(manifest) in line and message in line
    with pytest.raises(ManifestError, match=message.replace("…", ".")):
        evaluate(manifest, Pipeline())


def test_a_missing_audio_file_is_named_before_anything_runs(tmp_path: Path) -> None:
    wav(tmp_path / "a.wav", 0.5)
    manifest = write_tsv(tmp_path / "m.tsv", "audio\ttext", "a.wav\tраз", "gone.wav\tдва")
    result = invoke(manifest, "--stages", "t_scripted", "-o", tmp_path / "r.json")
    assert result.exit_code == 2
    line = error_line(result)
    assert "line 3: audio file not found" in line and "gone.wav" in line
    assert not (tmp_path / "r.json").exists()


def test_a_missing_manifest_and_bad_pipeline_options_are_errors(tmp_path: Path) -> None:
    assert "no such manifest" in error_line(invoke(tmp_path / "none.tsv"))
    manifest = write_tsv(tmp_path / "m.tsv", "audio\ttext", "a.wav\tраз")
    hyp = write_jsonl(tmp_path / "h.jsonl", {"audio": "a.wav", "text": "раз"})
    result = invoke(manifest, "--hyp", hyp, "--model", "some/model")
    assert result.exit_code == 2 and "do not apply" in error_line(result)


# ---------------------------------------------------------------- --hyp


def test_hyp_jsonl_scores_saved_transcripts_into_json_csv_and_alignments(tmp_path: Path) -> None:
    manifest = write_tsv(
        tmp_path / "m.tsv",
        "audio\ttext\tspeaker",
        "a.wav\tМама мыла раму.\tанна",
        "b.wav\tЕй двенадцать лет.\tборис",
        "c.wav\tдобрый вечер\tанна",
    )
    hyp = write_jsonl(
        tmp_path / "hyp.jsonl",
        {"audio": "./b.wav", "text": "ей 12 лет"},
        {"audio": "a.wav", "text": "мама мыла рану"},
        {"audio": "c.wav", "text": "добрый добрый вечер"},
        {"audio": "other.wav", "text": "не из манифеста"},
    )
    report = tmp_path / "out" / "report.json"
    result = invoke(manifest, "--hyp", hyp, "-o", report)
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["wer"] == pytest.approx(2 / 8)  # 1 substitution + 1 insertion over 3 + 3 + 2
    assert data["cer"] == pytest.approx((1 + 7) / (14 + 9 + 12))
    assert (data["substitutions"], data["deletions"], data["insertions"]) == (1, 0, 1)
    assert data["files"] == 3 and data["failed_files"] == 0 and data["hypotheses"] == str(hyp)
    assert data["normalization"] == {
        "lowercase": True,
        "yo": True,
        "punctuation": True,
        "numbers": True,
    }
    assert data["tags"]["speaker"]["анна"]["wer"] == pytest.approx(2 / 5)
    assert data["tags"]["speaker"]["борис"]["wer"] == 0
    assert [f["audio"] for f in data["per_file"]] == ["c.wav", "a.wav", "b.wav"]  # worst first
    assert data["per_file"][1]["hypothesis"] == "мама мыла рану"

    rows = list(csv.DictReader((tmp_path / "out" / "report.csv").open(encoding="utf-8")))
    assert [r["audio"] for r in rows] == ["c.wav", "a.wav", "b.wav"]
    assert float(rows[1]["wer"]) == pytest.approx(1 / 3) and rows[1]["speaker"] == "анна"
    assert rows[2]["reference"] == rows[2]["hypothesis"] == "ей 12 лет"

    alignments = (tmp_path / "out" / "report.alignments.txt").read_text(encoding="utf-8")
    assert alignments.index("=== c.wav") < alignments.index("=== a.wav")
    assert "HYP: мама мыла рану" in alignments and "b.wav" not in alignments

    assert "a.wav" in result.output and "33.3" in result.output  # the terminal table
    assert "HYP: мама мыла рану" in result.output  # the terminal alignments
    assert "1 line(s) of" in result.output  # the unmatched hypothesis


def test_hyp_folder_of_json_transcripts_is_matched_by_stem(tmp_path: Path) -> None:
    manifest = write_jsonl(
        tmp_path / "m.jsonl",
        {"audio": "calls/a.wav", "text": "раз два три"},
        {"audio": "calls/b.mp3", "text": "четыре пять"},
        {"audio": "calls/c.wav", "text": "шесть"},
    )
    folder = tmp_path / "out"
    folder.mkdir()
    saved = {"a": "раз два три", "b": "четыре"}
    for stem, text in saved.items():
        transcript = Transcript.from_text(text, source=f"calls/{stem}")
        meta = replace(transcript.metadata, model="some/model", config_hash="abc")
        (folder / f"{stem}.json").write_text(replace(transcript, metadata=meta).to_json(), "utf-8")
    report = tmp_path / "r.json"
    result = invoke(manifest, "--hyp", folder, "-o", report)
    assert result.exit_code == 1  # c has no transcript: listed, the rest scored
    assert "calls/c.wav: no transcript" in result.output
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["files"] == 2 and data["failed_files"] == 1
    assert data["wer"] == pytest.approx(1 / 5)
    assert (data["model"], data["config_hash"]) == ("some/model", "abc")
    assert data["failed"][0]["audio"] == "calls/c.wav"


def test_hyp_errors_name_file_and_line(tmp_path: Path) -> None:
    manifest = write_tsv(tmp_path / "m.tsv", "audio\ttext", "a.wav\tраз")
    hyp = tmp_path / "h.jsonl"
    hyp.write_text('{"audio": "a.wav", "text": "раз"}\n{"audio": "a.wav", "text": "два"}\n')
    assert "h.jsonl: line 2: a second hypothesis" in error_line(invoke(manifest, "--hyp", hyp))
    hyp.write_text('{"audio": "a.wav"}\n')
    assert "line 1: 'text' must be a string" in error_line(invoke(manifest, "--hyp", hyp))
    assert "no such hypothesis file" in error_line(invoke(manifest, "--hyp", tmp_path / "no"))


def test_hyp_folder_refuses_two_entries_with_one_stem(tmp_path: Path) -> None:
    manifest = write_tsv(tmp_path / "m.tsv", "audio\ttext", "x/a.wav\tраз", "y/a.wav\tдва")
    (tmp_path / "out").mkdir()
    line = error_line(invoke(manifest, "--hyp", tmp_path / "out"))
    assert "'a' is the stem of 'x/a.wav' (line 2) and 'y/a.wav' (line 3)" in line


# ---------------------------------------------------------------- recognition


def test_recognition_scores_times_and_goes_on_past_a_failure(tmp_path: Path) -> None:
    wav(tmp_path / "a.wav", 1.0)
    wav(tmp_path / "sub" / "b.wav", 2.0)
    wav(tmp_path / "broken.wav", 0.5)
    ScriptedAsr.texts.update({"a": "мама мыла рану", "b": "ей двенадцать лет"})
    manifest = write_tsv(
        tmp_path / "m.tsv",
        "audio\ttext",
        "a.wav\tмама мыла раму",
        "broken.wav\tничего",
        "sub/b.wav\tЕй 12 лет.",
    )
    report = tmp_path / "r.json"
    result = invoke(manifest, "--stages", "t_scripted", "-o", report)
    assert result.exit_code == 1
    assert "the decoder gave up" in result.output and "failed 1" in result.output
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["wer"] == pytest.approx(1 / 6) and data["files"] == 2
    assert data["failed"][0]["audio"] == "broken.wav"
    assert data["stages"] == ["t_scripted"] and len(data["config_hash"]) == 16
    assert data["audio_s"] == pytest.approx(3.0)
    assert data["rtf"] == pytest.approx(data["processing_s"] / 3.0)
    by_audio = {f["audio"]: f for f in data["per_file"]}
    assert by_audio["sub/b.wav"]["audio_s"] == pytest.approx(2.0)
    assert by_audio["sub/b.wav"]["hypothesis"] == "ей двенадцать лет"
    # the hypotheses saved beside the report score the same without recognising
    saved = tmp_path / "r.hyp.jsonl"
    again = invoke(manifest, "--hyp", saved, "-o", tmp_path / "again.json")
    assert again.exit_code == 1  # broken.wav has no hypothesis there either
    assert json.loads((tmp_path / "again.json").read_text("utf-8"))["wer"] == data["wer"]


def test_library_evaluate_matches_the_command(tmp_path: Path) -> None:
    wav(tmp_path / "a.wav", 1.0)
    ScriptedAsr.texts["a"] = "мама мыла рану"
    manifest = write_jsonl(tmp_path / "m.jsonl", {"audio": "a.wav", "text": "Мама мыла раму"})
    report = evaluate(manifest, Pipeline().add_stage("t_scripted"))
    assert report.wer == pytest.approx(1 / 3) and not report.failed
    assert report.files[0].audio_s == pytest.approx(1.0) and report.files[0].rtf is not None
    raw = evaluate(
        manifest, Pipeline().add_stage("t_scripted"), normalization=Normalization(lowercase=False)
    )
    assert raw.wer == pytest.approx(2 / 3)  # "Мама" differs too


def test_scoring_flags_reach_the_report(tmp_path: Path) -> None:
    manifest = write_tsv(tmp_path / "m.tsv", "audio\ttext", "a.wav\tЕй двенадцать лет.")
    hyp = write_jsonl(tmp_path / "h.jsonl", {"audio": "a.wav", "text": "ей 12 лет"})
    out = tmp_path / "r.json"
    result = invoke(manifest, "--hyp", hyp, "-o", out, "--no-numbers", "--keep-punctuation")
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["normalization"]["numbers"] is False
    assert data["normalization"]["punctuation"] is False
    assert data["substitutions"] == 2  # "двенадцать" / "12" and "лет." / "лет"


def test_without_jiwer_the_error_names_the_extra_before_anything_runs(
    tmp_path: Path, monkeypatch
) -> None:
    manifest = write_tsv(tmp_path / "m.tsv", "audio\ttext", "a.wav\tраз")
    monkeypatch.setitem(sys.modules, "jiwer", None)
    result = invoke(manifest, "--stages", "t_scripted")
    assert result.exit_code == 1
    assert "pip install 'asr-pipeline[eval]'" in error_line(result)


def test_nothing_scored_gives_null_rates_and_exit_1(tmp_path: Path) -> None:
    manifest = write_tsv(tmp_path / "m.tsv", "audio\ttext", "a.wav\tраз")
    hyp = write_jsonl(tmp_path / "h.jsonl", {"audio": "b.wav", "text": "раз"})
    result = invoke(manifest, "--hyp", hyp, "-o", tmp_path / "r.json")
    assert result.exit_code == 1 and "a.wav: no hypothesis" in result.output
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["wer"] is None and data["cer"] is None and data["failed_files"] == 1


def test_docs_examples_run() -> None:
    import doctest

    import asr_pipeline.evaluate.normalize as normalize

    docs = Path(__file__).parents[1] / "docs" / "eval.md"
    flags = doctest.NORMALIZE_WHITESPACE
    result = doctest.testfile(str(docs), module_relative=False, optionflags=flags)
    assert result.attempted >= 3 and result.failed == 0
    assert doctest.testmod(normalize).failed == 0


def test_eval_imports_neither_torch_nor_jiwer_up_front() -> None:
    code = (
        "import sys, asr_pipeline.evaluate, asr_pipeline.cli; "
        "print([m for m in ('torch', 'jiwer', 'transformers') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- tiny model end to end


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    pytest.importorskip("transformers")
    from tests.tiny_model import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def test_a_manifest_runs_end_to_end_with_a_tiny_model(tmp_path: Path, tiny_model: Path) -> None:
    wav(tmp_path / "audio" / "one.wav", 1.5)
    wav(tmp_path / "audio" / "two.wav", 0.8)
    manifest = write_tsv(
        tmp_path / "m.tsv",
        "id\taudio\ttext\tnoise",
        "first\taudio/one.wav\tпривет как дела\tтихо",
        "second\taudio/two.wav\tдвенадцать\tшумно",
    )
    report = tmp_path / "report.json"
    result = invoke(
        manifest,
        "--stages",
        "vad,ctc",
        "--set",
        "stages.vad.mode=fixed",
        "--model",
        tiny_model,
        "--device",
        "cpu",
        "-o",
        report,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text(encoding="utf-8"))
    assert isinstance(data["wer"], float) and isinstance(data["cer"], float)
    assert data["wer"] > 0  # random weights cannot say these words
    assert data["files"] == 2 and Path(data["model"]).name == tiny_model.name
    assert data["stages"] == ["vad", "ctc"] and data["audio_s"] == pytest.approx(2.3)
    assert data["processing_s"] > 0 and data["load_s"] > 0
    assert set(data["tags"]["noise"]) == {"тихо", "шумно"}
    rows = list(csv.DictReader((tmp_path / "report.csv").open(encoding="utf-8")))
    assert {r["id"] for r in rows} == {"first", "second"}
    hyps = [json.loads(line) for line in (tmp_path / "report.hyp.jsonl").open(encoding="utf-8")]
    assert [h["id"] for h in hyps] == ["first", "second"]
    assert "RTF" in result.output
