"""Hostile input: configs, files a config names, output folders, audio headers, transcripts."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asr_pipeline import Pipeline, Transcript
from asr_pipeline.cli import app
from asr_pipeline.cli.batch import make_writers, run_batch
from asr_pipeline.config import YAML_NODE_LIMIT, load_config, resolve_config
from asr_pipeline.errors import ConfigError, OutputError
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
