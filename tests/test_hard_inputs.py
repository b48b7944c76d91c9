"""Hostile input: configs, files a config names, output folders, audio headers, transcripts."""

from __future__ import annotations

import errno
import json
import os
import re
import struct
import time
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import asr_pipeline.audio as audio_module
from asr_pipeline import Pipeline, Transcript
from asr_pipeline.audio import probe
from asr_pipeline.cli import app
from asr_pipeline.cli.batch import make_writers, run_batch
from asr_pipeline.config import YAML_NODE_LIMIT, load_config, resolve_config
from asr_pipeline.errors import AudioError, ConfigError, OutputError, TruncatedAudioWarning
from asr_pipeline.evaluate import Normalization, check_references, score_file
from asr_pipeline.evaluate.manifest import ManifestError, read_manifest
from asr_pipeline.io import read_text_file
from asr_pipeline.writers import get_writer, write_transcript

runner = CliRunner()

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)
"""393 bytes of YAML that expand to 9**9 (387 million) strings."""


def show(*arguments: str) -> tuple[int, str]:
    result = runner.invoke(app, ["config", "show", *arguments])
    return result.exit_code, result.output


# ---------------------------------------------------------------- configs


def test_yaml_alias_bomb_is_refused_quickly_with_a_short_error(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB, encoding="utf-8")
    started = time.perf_counter()
    code, output = show("-c", str(path))
    assert time.perf_counter() - started < 10
    assert code == 2
    assert str(path) in output and f"more than {YAML_NODE_LIMIT} values" in output
    assert len(output) < 1000
    with pytest.raises(ConfigError, match="more than"):
        load_config(None, [f"stages.vad.threshold={{{BOMB.replace(chr(10), ', ')}}}"])


def test_aliases_within_the_limit_load_as_safe_load_does(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "shared: &speakers [Анна, Борис]\ninput: {channels: true, speakers: *speakers}\n",
        encoding="utf-8",
    )
    data = load_config(path)
    assert data["input"]["speakers"] == ["Анна", "Борис"]
    path.write_text("x: !!python/object/apply:os.system [echo]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(path)


def test_values_shown_in_errors_are_cut_to_200_characters() -> None:
    code, output = show("--set", f"stages.vad.mode={'x' * 100_000}")
    assert code == 2 and "stages.vad.mode" in output
    assert "(100002 characters)" in output and len(output) < 600
    code, output = show("--set", f"stages.{'y' * 5000}.threshold=1")
    assert code == 2 and len(output) < 2000


@pytest.mark.parametrize(
    ("assignment", "path"),
    [
        ("stages.vad.threshold=5", "stages.vad.threshold"),
        ("stages.vad.threshold=.nan", "stages.vad.threshold"),
        ("stages.vad.min_silence_s=-1", "stages.vad.min_silence_s"),
        ("stages.ctc.chunk_s=0", "stages.ctc.chunk_s"),
        ("stages.ctc.beam_width=0", "stages.ctc.beam_width"),
        ("writers.srt.max_line_chars=0", "writers.srt.max_line_chars"),
        ("writers.vtt.max_duration=-2", "writers.vtt.max_duration"),
        ("stages.casing.min_score=1.5", "stages.casing.min_score"),
    ],
)
def test_out_of_range_values_are_caught_by_config_show(assignment: str, path: str) -> None:
    code, output = show("--set", assignment)
    assert code == 2
    assert output.strip().startswith(f"error: {path}: expected a number")
    with pytest.raises(ConfigError, match=path):
        resolve_config(load_config(None, [assignment]))


def test_values_at_the_edge_of_their_range_are_accepted() -> None:
    config = resolve_config(
        load_config(None, ["stages.vad.min_silence_s=0", "writers.srt.max_line_chars=1"])
    )
    assert config.stages["vad"].options["min_silence_s"] == 0.0
    assert config.writers["srt"]["max_line_chars"] == 1


def test_non_utf8_config_names_the_file_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("pipeline: [vad]\n# café\n".encode("latin-1"))
    code, output = show("-c", str(path))
    assert code == 2 and str(path) in output and "UTF-8" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("option", ["vocabulary", "stages.ctc.hotwords_file", "stages.ctc.lm"])
def test_devices_fifos_and_folders_named_as_files_are_refused(tmp_path: Path, option) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target in ("/dev/zero", str(fifo)):
        code, output = show("--set", f"{option}={target}")
        assert code == 2, output
        assert target in output and "not a regular file" in output
    if option != "stages.ctc.lm":  # a language model may be a folder
        code, output = show("--set", f"{option}={tmp_path}")
        assert code == 2 and "is a folder" in output


def test_files_over_their_size_limit_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "vocabulary.txt"
    path.write_text("Газпром\n" * 1000, encoding="utf-8")
    assert read_text_file(path, limit=20_000).count("Газпром") == 1000
    with pytest.raises(ConfigError, match=f"stages.ctc.vocabulary: '{path}' has 15000 bytes"):
        read_text_file(path, where="stages.ctc.vocabulary", limit=10_000)


def test_a_string_for_stages_or_overrides_is_one_item() -> None:
    pipe = Pipeline.from_config(None, stages="numbers")
    assert pipe.stage_names == ["numbers"]
    pipe = Pipeline.from_config(
        None, stages="numbers,casing", overrides="stages.numbers.style=digits"
    )
    assert pipe.stage_names == ["numbers", "casing"]
    assert pipe.config.stages["numbers"].options["style"] == "digits"


# ---------------------------------------------------------------- outputs

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "call.json"


def no_space(*_args) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_output_folder_is_found_before_any_input_is_processed(
    tmp_path: Path, monkeypatch
) -> None:
    processed = []
    writers = make_writers("txt")
    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OutputError, match=f"{tmp_path}: cannot write into the output folder"):
        run_batch([EXAMPLE], processed.append, writers, tmp_path)
    assert processed == [] and list(tmp_path.iterdir()) == []


def test_a_failed_write_names_the_target_not_the_temporary_file(
    tmp_path: Path, monkeypatch
) -> None:
    transcript = Transcript.from_text("привет")
    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OutputError) as caught:
        write_transcript(transcript, tmp_path / "talk.txt", get_writer("txt"))
    assert str(caught.value) == f"{tmp_path / 'talk.txt'}: cannot write: No space left on device"
    assert list(tmp_path.iterdir()) == []


def test_output_folder_that_is_a_file_or_cannot_be_made_is_one_line_exit_2(
    tmp_path: Path,
) -> None:
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me", encoding="utf-8")
    for target, why in ((existing, "is a file, not a folder"), (existing / "sub", "cannot make")):
        result = runner.invoke(app, ["render", str(EXAMPLE), "-f", "srt", "-o", str(target)])
        assert result.exit_code == 2, result.output
        assert result.output.strip().count("\n") == 0
        assert result.output.startswith(f"error: {target}: {why}")
    assert existing.read_text(encoding="utf-8") == "keep me"


def test_stale_temporary_files_of_a_killed_run_are_cleaned_up(tmp_path: Path) -> None:
    stale = tmp_path / ".call.srt.k3x_9abq.part"
    fresh = tmp_path / ".call.txt.a1b2c3d4.part"  # another run may be writing it right now
    others = [tmp_path / ".notes.part", tmp_path / "call.srt.part", tmp_path / ".x.ABCDEFGH.part"]
    for path in (stale, fresh, *others):
        path.write_text("half", encoding="utf-8")
    old = time.time() - 3600
    for path in (stale, *others):
        os.utime(path, (old, old))
    result = runner.invoke(app, ["render", str(EXAMPLE), "-f", "srt", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert not stale.exists()
    assert fresh.exists() and all(path.exists() for path in others)
    assert (tmp_path / "call.srt").is_file()


# ---------------------------------------------------------------- audio

SR = 16_000


def tone(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def encode(path: Path, samples: np.ndarray) -> Path:
    if path.suffix == ".mp3":
        with av.open(str(path), "w") as container:
            stream = container.add_stream("mp3", rate=SR, layout="mono")
            frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
            frame.sample_rate = SR
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                container.mux(packet)
    else:
        sf.write(path, samples, SR)
    return path


def wav_header(path: Path, *, rate: int, bits: int, channels: int = 1, frames: int = SR) -> Path:
    data = bytes(frames * channels * max(bits, 16) // 8)
    block = channels * bits // 8
    fmt = struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, bits)
    riff = b"WAVE" + b"fmt " + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    return path


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3"])
def test_truncated_audio_warns_and_uses_the_decoded_duration(tmp_path: Path, suffix) -> None:
    whole = encode(tmp_path / f"whole{suffix}", tone(6.0))
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert probe(whole).duration == pytest.approx(6.0, abs=0.05)
    with pytest.warns(TruncatedAudioWarning, match=r"declares 6\.00 s of audio, [23]\.\d\d s") as w:
        audio = probe(cut)
    decoded = float(re.search(r", (\d\.\d\d) s could", str(w[0].message)).group(1))
    assert 2.5 < audio.duration < 3.3 and audio.duration == pytest.approx(decoded, abs=0.005)
    streamed = sum(len(block) for _, block in audio.blocks(1.0)) / SR
    assert streamed == pytest.approx(audio.duration, abs=0.01)
    result = runner.invoke(
        app,
        ["transcribe", str(cut), "--stages", "numbers", "-f", "json"]
        + ["-o", str(tmp_path / "out")],
    )
    assert result.exit_code == 0, result.output
    assert f"warning: {cut}: the file is truncated" in result.output
    saved = json.loads((tmp_path / "out" / "cut.json").read_text(encoding="utf-8"))
    assert saved["duration"] == pytest.approx(audio.duration)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"rate": SR, "bits": 0}, "cannot be decoded .*0 bits per sample"),
        ({"rate": 1, "bits": 16}, "sample rate of 1 Hz, outside"),
        ({"rate": SR, "bits": 16, "channels": 200, "frames": 100}, "200 channels, more than"),
    ],
)
def test_absurd_wav_headers_are_clear_errors(tmp_path: Path, header, message) -> None:
    path = wav_header(tmp_path / "odd.wav", **header)
    with pytest.raises(AudioError, match=f"{path}: .*{message}"):
        probe(path)


def test_a_header_declaring_days_of_audio_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(audio_module, "MAX_DURATION_S", 1.0)
    path = encode(tmp_path / "long.flac", tone(2.0))
    with pytest.raises(AudioError, match="declares 0 hours of audio, more than"):
        probe(path)


# ---------------------------------------------------------------- transcripts read back


def saved_transcript() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(segments="none"), "segments: expected a list, got a string"),
        (lambda d: d["segments"].__setitem__(0, 7), r"segments\[0\]: expected an object"),
        (lambda d: d["segments"][1].pop("start"), r"segments\[1\]\.start: missing"),
        (
            lambda d: d["segments"][0]["words"][2].update(start="abc"),
            r"segments\[0\]\.words\[2\]\.start: expected a number, got a string \"abc\"",
        ),
        (lambda d: d["segments"][0]["words"][0].update(text=5), r"words\[0\]\.text: expected a"),
        (lambda d: d["segments"][0].update(channel=True), "channel: expected a whole number"),
        (lambda d: d.update(metadata=[]), "metadata: expected an object, got a list"),
        (lambda d: d["metadata"].update(stages=[1]), r"metadata\.stages\[0\]: expected a"),
        (lambda d: d.update(duration=float("nan")), "duration: expected a finite number"),
    ],
)
def test_bad_transcript_fields_are_named_one_clear_error_each(change, message) -> None:
    data = saved_transcript()
    change(data)
    with pytest.raises(ValueError, match=message):
        Transcript.from_json(json.dumps(data))


def test_deeply_nested_or_non_object_json_is_a_clear_error() -> None:
    for text, message in [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"schema": 1, "segments": [' + "[" * 500 + "]" * 500 + "]}", "segments.0.: expected"),
        ("[1, 2]", "the transcript: expected an object, got a list"),
    ]:
        with pytest.raises(ValueError, match=message.replace(".0.", r"\[0\]")):
            Transcript.from_json(text)


def test_unknown_keys_from_a_newer_version_are_ignored(tmp_path: Path) -> None:
    data = saved_transcript()
    data["metadata"]["diarizer"] = {"model": "next"}
    data["segments"][0]["language"] = "ru"
    data["segments"][0]["words"][0]["phonemes"] = ["z", "d"]
    data["summary"] = "новое поле"
    transcript = Transcript.from_json(json.dumps(data))
    assert transcript == Transcript.from_json(EXAMPLE.read_text(encoding="utf-8"))
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(app, ["render", str(path), "-f", "txt", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "newer.txt").read_text(encoding="utf-8").strip()


def test_render_names_the_file_and_the_field_and_goes_on(tmp_path: Path) -> None:
    bad = saved_transcript()
    bad["segments"][0]["words"] = {"text": "x"}
    (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    (tmp_path / "good.json").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    result = runner.invoke(app, ["render", str(tmp_path), "-f", "txt", "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'bad.json'}: not a transcript saved as JSON (segments[0].words:" in (
        " ".join(result.output.split())
    )
    assert "Traceback" not in result.output and (tmp_path / "good.txt").is_file()


# ---------------------------------------------------------------- eval normalisation


@pytest.mark.parametrize(
    ("written", "plain"),
    [
        ("за\u0301мок", "замок"),  # stress mark
        ("Заво\u0300д", "завод"),  # grave stress mark
        ("и\u0306од", "йод"),  # decomposed й (и + breve): composed, not stripped
        ("е\u0308лка", "елка"),  # decomposed ё, then yo -> е
        ("по\u00adлу\u200bчит\u200d\ufeff", "получит"),  # soft hyphen, zero-width characters
    ],
)
def test_eval_normalisation_unifies_unicode(written: str, plain: str) -> None:
    normalize = Normalization()
    assert normalize(written) == normalize(plain) == plain
    assert "й" in Normalization(yo=False)("и\u0306од") and "ё" in Normalization(yo=False)("е\u0308")


def test_stressed_reference_scores_as_the_plain_hypothesis(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text("audio\ttext\na.wav\tЭто за\u0301мок и\u0306ога\n", encoding="utf-8")
    (entry,) = read_manifest(manifest)
    assert score_file(entry, "это замок йога").wer == 0.0


def test_reference_empty_after_normalisation_names_its_line(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text("audio\ttext\na.wav\tпривет\nb.wav\t\u200b\u0301\u00ad\n", encoding="utf-8")
    entries = read_manifest(manifest)
    with pytest.raises(ManifestError, match=f"{manifest}: line 3: the reference for 'b.wav' is"):
        check_references(entries, Normalization())
