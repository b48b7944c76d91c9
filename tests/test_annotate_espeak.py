"""``asr-pipeline annotate`` end to end on espeak-ng speech with the demonstration model: clips
cut between spoken words, every export read back, a corrupt input among good ones, resuming,
and the Label Studio round trip scored by ``eval`` on the corrected spans."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import jiwer
import pytest
import soundfile as sf
from test_e2e_espeak import MODEL, REPO, SR, heldout, pause, spoken_with_word_times
from typer.testing import CliRunner

from asr_pipeline.cli import app

BOUNDARY_TOLERANCE_S = 0.12
"""How far a clip's edge may reach into a spoken word: CTC word times are good to about 0.1 s."""
MIN_S, MAX_S = 1.0, 5.0
SENTENCES = heldout(120)


def spoken(texts: list[str], voice: str, gap: float = 0.9):
    """Sentences with a pause between them; each word's spoken span from espeak-ng's events."""
    audio = pause(0.4)
    for index, text in enumerate(texts):
        if index:
            audio = audio + pause(gap)
        audio = audio + spoken_with_word_times(text, voice=voice, speed=165)
    return audio + pause(0.4)


def annotate(*args: str | Path):
    model = ["--stages", "vad,ctc", "--model", str(MODEL), "--device", "cpu"]
    return CliRunner().invoke(app, ["annotate", *map(str, args), *model])


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two recordings and a corrupt file annotated into one dataset."""
    folder = tmp_path_factory.mktemp("annotate")
    # three short sentences 0.3 s apart make one utterance longer than MAX_S: it must be split
    # at one of those pauses; then a pause and one more sentence
    first = spoken([SENTENCES[32], SENTENCES[45], SENTENCES[57]], voice="ru", gap=0.3)
    first = first + spoken([SENTENCES[17]], voice="ru")
    second = spoken([SENTENCES[26], SENTENCES[25]], voice="ru+f3")
    sf.write(folder / "lecture.wav", first.samples, SR)
    sf.write(folder / "interview.flac", second.samples, SR)
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    dataset = folder / "ds"
    args = ["-o", dataset, "-f", "nemo,hf,labelstudio,textgrid,eaf,ctm"]
    args += ["--min-duration", MIN_S, "--max-duration", MAX_S, "--audio-url-prefix", "/audio/"]
    result = annotate(
        folder / "lecture.wav", folder / "interview.flac", folder / "broken.wav", *args
    )
    return folder, dataset, args, result, {"lecture": first, "interview": second}


def test_a_corrupt_file_is_reported_and_the_others_annotated(corpus) -> None:
    _, dataset, _, result, _ = corpus
    assert result.exit_code == 1, result.output
    assert "broken.wav" in result.output and "annotated 2" in result.output
    assert re.search(r"dataset: \d+ clips", result.output)
    names = sorted(p.name for p in (dataset / "annotations").iterdir())
    assert names == sorted(
        f"{stem}.{ext}"
        for stem in ("lecture", "interview")
        for ext in ("clips.json", "TextGrid", "eaf", "ctm")
    )


def test_clips_are_pcm16_mono_within_bounds_and_cut_between_spoken_words(corpus) -> None:
    _, dataset, _, _, recordings = corpus
    rows = read_jsonl(dataset / "manifest.jsonl")
    clips = sorted((dataset / "audio").iterdir())
    assert [dataset / r["audio_filepath"] for r in rows] == clips
    assert all(re.fullmatch(r"(lecture|interview)_\d{5}\.wav", p.name) for p in clips)
    assert sum(r["source"].endswith("lecture.wav") for r in rows) >= 3  # 4 sentences, split
    for row in rows:
        info = sf.info(dataset / row["audio_filepath"])
        assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
        assert MIN_S <= info.duration <= MAX_S and info.duration == pytest.approx(
            row["duration"], abs=1e-3
        )
        spans = recordings[Path(row["source"]).stem].spans
        for edge in (row["offset"], row["offset"] + row["duration"]):
            inside = [
                (a, b)
                for a, b in spans
                if a + BOUNDARY_TOLERANCE_S < edge < b - BOUNDARY_TOLERANCE_S
            ]
            assert not inside, f"{row['audio_filepath']}: edge {edge:.2f} s inside a word {inside}"
    lecture = " ".join(r["text"] for r in rows if r["source"].endswith("lecture.wav"))
    reference = " ".join(recordings["lecture"].words)
    assert jiwer.cer(reference, lecture.replace("ё", "е")) < 0.2, lecture


def test_per_source_files_are_on_the_sources_timeline(corpus) -> None:
    from praatio import textgrid

    _, dataset, _, _, _ = corpus
    rows = [
        r for r in read_jsonl(dataset / "manifest.jsonl") if r["source"].endswith("lecture.wav")
    ]
    grid = textgrid.openTextgrid(str(dataset / "annotations" / "lecture.TextGrid"), False)
    utterances = [(e.start, e.end, e.label) for e in grid.getTier("utterances").entries]
    expected = [(r["offset"], round(r["offset"] + r["duration"], 3), r["text"]) for r in rows]
    assert [u[2] for u in utterances] == [e[2] for e in expected]
    times = [t for u in utterances for t in u[:2]]
    assert times == pytest.approx([t for e in expected for t in e[:2]], abs=1e-3)
    ctm = (dataset / "annotations" / "lecture.ctm").read_text("utf-8").split("\n")
    assert len([line for line in ctm if line]) == len(grid.getTier("words").entries)


def test_rerunning_resumes_and_adds_to_the_dataset(corpus) -> None:
    folder, dataset, args, _, _ = corpus
    before = read_jsonl(dataset / "manifest.jsonl")
    extra = spoken([SENTENCES[72]], voice="ru+m3")
    sf.write(folder / "extra.wav", extra.samples, SR)
    result = annotate(
        folder / "lecture.wav", folder / "interview.flac", folder / "extra.wav", *args
    )
    assert result.exit_code == 0, result.output
    assert "annotated 1" in result.output and "skipped 2" in result.output
    after = read_jsonl(dataset / "manifest.jsonl")
    assert [r for r in after if not r["source"].endswith("extra.wav")] == before
    assert any(r["source"].endswith("extra.wav") for r in after)
    metadata = read_jsonl(dataset / "metadata.jsonl")
    assert [m["file_name"] for m in metadata] == [r["audio_filepath"] for r in after]
    assert len(json.loads((dataset / "tasks.json").read_text("utf-8"))) == 3


def test_labelstudio_corrections_come_back_as_spans_that_eval_recognises(corpus) -> None:
    folder, dataset, _, _, _ = corpus
    tasks = json.loads((dataset / "tasks.json").read_text("utf-8"))
    task = next(t for t in tasks if t["data"]["source"].endswith("interview.flac"))
    assert task["data"]["audio"] == "/audio/interview.flac"
    result = [dict(r, origin="prediction-changed") for r in task["predictions"][0]["result"]]
    regions = list(dict.fromkeys(r["id"] for r in result))
    assert len(regions) >= 2
    kept = [r for r in result if r["id"] != regions[-1]]  # the annotator deletes the last region
    export = [{"id": 5, "data": task["data"], "annotations": [{"id": 1, "result": kept}]}]
    (folder / "export.json").write_text(json.dumps(export, ensure_ascii=False), "utf-8")
    manifest = folder / "corrected.jsonl"
    imported = CliRunner().invoke(
        app,
        ["import-annotations", str(folder / "export.json"), "-o", str(manifest)]
        + ["--audio-url-prefix", "/audio/"],
    )
    assert imported.exit_code == 0, imported.output
    rows = read_jsonl(manifest)
    assert len(rows) == len(regions) - 1 and all(r["audio"] == "interview.flac" for r in rows)
    report = folder / "report.json"
    model = ["--stages", "vad,ctc", "--model", str(MODEL), "--device", "cpu"]
    scored = CliRunner().invoke(app, ["eval", str(manifest), "-o", str(report), *model])
    assert scored.exit_code == 0, scored.output
    data = json.loads(report.read_text("utf-8"))
    # each span recognised alone (the whole file would add the deleted region's words): the
    # hypothesis is near the draft, which came from the same model over the whole file
    assert data["files"] == len(rows) and data["cer"] < 0.2
    audio_s = sorted(f["audio_s"] for f in data["per_file"])
    assert audio_s == pytest.approx(sorted(r["duration"] for r in rows), abs=2e-3)


def test_the_docs_first_example_gives_what_the_docs_show(tmp_path: Path, monkeypatch) -> None:
    doc = (REPO / "docs" / "annotate.md").read_text(encoding="utf-8")
    section = doc[doc.index("## A corpus in five minutes") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    command, shown = block.split("\n# ")
    arguments = shlex.split(command.replace("\\\n", " "))
    assert arguments[:2] == ["asr-pipeline", "annotate"]
    arguments[arguments.index("-o") + 1] = str(tmp_path / "corpus")
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(app, arguments[1:])
    assert result.exit_code == 0, result.output
    assert shown.strip() in result.output
    manifest = json.loads(re.search(r"```json\n(.*?)\n```", section, re.S).group(1))
    first = read_jsonl(tmp_path / "corpus" / "manifest.jsonl")[0]
    assert {k: first[k] for k in ("audio_filepath", "text", "source")} == {
        k: manifest[k] for k in ("audio_filepath", "text", "source")
    }
    for name in ("espeak_ru_sample.TextGrid", "espeak_ru_sample.clips.json"):
        assert (tmp_path / "corpus" / "annotations" / name).is_file()
