"""The command line, through typer's runner: every command, batches, errors and options."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import soundfile as sf
import yaml
from typer.testing import CliRunner

from asr_pipeline import Transcript, Word, register_stage, register_writer
from asr_pipeline.cli import app, build_pipeline
from asr_pipeline.cli.batch import run_batch
from asr_pipeline.config import load_config, resolve_config
from asr_pipeline.registry import stages as stage_registry
from asr_pipeline.registry import writers as writer_registry
from asr_pipeline.writers import get_writer

runner = CliRunner()
SRT_SPAN = re.compile(r"\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}")
ANNOTATION = ("textgrid", "eaf", "ctm")
"""The annotation writers (asr_pipeline/writers/annotation.py)."""


class FakeAsr:
    """Fake recognition: one word every half second of each segment.

    Options:
        word: the word written, numbered.
    """

    sources: ClassVar[list[str]] = []

    def __init__(self, *, word: str = "слово") -> None:
        self.word = word

    def __call__(self, transcript: Transcript) -> Transcript:
        FakeAsr.sources.append(Path(str(transcript.source)).name)
        if transcript.audio is not None:
            transcript.audio.read(0.0, 0.1)  # the handle really reads the file

        def fill(segment):
            count = max(1, int((segment.end - segment.start) / 0.5))
            words = tuple(
                Word(f"{self.word}{i}", segment.start + i * 0.5, segment.start + i * 0.5 + 0.4)
                for i in range(count)
            )
            return replace(segment, words=words)

        return transcript.map_segments(fill)


class Shout:
    """Upper-case every word."""

    def __call__(self, transcript: Transcript) -> Transcript:
        return transcript.with_texts([w.text.upper() for w in transcript.words])


class Suffix:
    """Append a suffix to every word; batches through pipe().

    Options:
        text: the suffix.
    """

    batches: ClassVar[list[int]] = []

    def __init__(self, *, text: str = "!") -> None:
        self.text = text

    def __call__(self, transcript: Transcript) -> Transcript:
        return transcript.with_texts([w.text + self.text for w in transcript.words])

    def pipe(self, transcripts):
        Suffix.batches.append(len(transcripts))
        return [self(t) for t in transcripts]


class Noisy:
    """Warn loudly, change nothing."""

    def __call__(self, transcript: Transcript) -> Transcript:
        warnings.warn("a noisy library warning", UserWarning, stacklevel=1)
        return transcript


STUBS = {"t_asr": FakeAsr, "t_shout": Shout, "t_suffix": Suffix, "t_noisy": Noisy}


@pytest.fixture(autouse=True)
def stubs():
    FakeAsr.sources.clear()
    Suffix.batches.clear()
    for name, factory in STUBS.items():
        register_stage(name)(factory)
    yield
    for name in STUBS:
        stage_registry.unregister(name)


def wav(path: Path, seconds: float = 1.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(path.name))
    sf.write(path, 0.1 * rng.standard_normal(int(16_000 * seconds)).astype("float32"), 16_000)
    return path


def invoke(*args: str | Path, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def one_line(text: str) -> str:
    assert text.endswith("\n") and text.count("\n") == 1, text
    return text.strip()


# ---------------------------------------------------------------- transcribe


def test_transcribe_writes_every_format(tmp_path: Path) -> None:
    source = wav(tmp_path / "talk.wav", 2.0)
    out = tmp_path / "out"
    result = invoke("transcribe", source, "-o", out, "-f", "json,srt,vtt,txt", "--stages", "t_asr")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "talk.json",
        "talk.srt",
        "talk.txt",
        "talk.vtt",
    ]
    transcript = Transcript.from_json((out / "talk.json").read_text(encoding="utf-8"))
    assert transcript.duration == pytest.approx(2.0)
    assert transcript.metadata.stages == ("t_asr",)
    assert [w.text for w in transcript.words] == [f"слово{i}" for i in range(4)]
    txt = (out / "talk.txt").read_text(encoding="utf-8")
    assert txt == "[00:00:00] слово0 слово1 слово2 слово3\n"
    srt = (out / "talk.srt").read_text(encoding="utf-8")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,900\nслово0 слово1 слово2 слово3\n")
    assert (out / "talk.vtt").read_text(encoding="utf-8").startswith("WEBVTT\n\n00:00:00.000 -->")
    assert "transcribed 1" in result.stderr


def test_transcribe_defaults_to_txt_in_the_current_folder(tmp_path: Path, monkeypatch) -> None:
    source = wav(tmp_path / "in" / "a.wav")
    monkeypatch.chdir(tmp_path)
    result = invoke("transcribe", source, "--stages", "t_asr")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "[00:00:00] слово0 слово1\n"


def test_folders_are_searched_recursively_and_globs_expand(tmp_path: Path) -> None:
    wav(tmp_path / "calls" / "one.wav")
    wav(tmp_path / "calls" / "deep" / "two.WAV")
    (tmp_path / "calls" / "notes.txt").write_text("not audio")
    wav(tmp_path / "calls" / ".hidden" / "three.wav")
    wav(tmp_path / "loose" / "four.wav")
    out = tmp_path / "out"
    pattern = str(tmp_path / "loose" / "*.wav")
    result = invoke("transcribe", tmp_path / "calls", pattern, "-o", out, "--stages", "t_asr")
    assert result.exit_code == 0, result.output
    assert sorted(FakeAsr.sources) == ["four.wav", "one.wav", "two.WAV"]
    assert sorted(p.name for p in out.iterdir()) == ["four.txt", "one.txt", "two.txt"]


def test_missing_input_is_named_before_anything_runs(tmp_path: Path) -> None:
    good = wav(tmp_path / "good.wav")
    missing = tmp_path / "nope.wav"
    result = invoke("transcribe", good, missing, "-o", tmp_path / "out", "--stages", "t_asr")
    assert result.exit_code == 2
    assert one_line(result.stderr) == f"error: {missing}: no such file or folder"
    assert FakeAsr.sources == []
    result = invoke("transcribe", str(tmp_path / "*.mp3"), "--stages", "t_asr")
    assert result.exit_code == 2 and "no files match this pattern" in result.stderr


def test_same_stem_is_an_error_naming_both_before_anything_runs(tmp_path: Path) -> None:
    first = wav(tmp_path / "a" / "talk.wav")
    second = wav(tmp_path / "b" / "talk.wav")
    out = tmp_path / "out"
    result = invoke("transcribe", first, second, "-o", out, "--stages", "t_asr")
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert str(first) in message and str(second) in message
    assert FakeAsr.sources == [] and not out.exists()


def test_a_batch_goes_on_past_a_failure_and_resumes(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    wav(folder / "a.wav")
    (folder / "b.wav").write_bytes(b"RIFF this is not audio at all")
    wav(folder / "c.wav")
    out = tmp_path / "out"
    args = ("transcribe", folder, "-o", out, "-f", "txt,json", "--stages", "t_asr")

    result = invoke(*args)
    assert result.exit_code == 1
    assert FakeAsr.sources == ["a.wav", "c.wav"]
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "a.txt", "c.json", "c.txt"]
    summary = result.stderr.strip().splitlines()
    assert summary[-2] == f"transcribed 2 into {out}, failed 1"
    assert summary[-1].startswith(f"  {folder / 'b.wav'}: ")

    wav(folder / "b.wav")  # fixed; an interrupted or failed batch resumes where it stopped
    FakeAsr.sources.clear()
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert FakeAsr.sources == ["b.wav"]
    assert "skipped 2 (outputs exist" in result.stderr

    FakeAsr.sources.clear()
    (out / "c.json").unlink()  # one format missing: that input runs again
    assert invoke(*args).exit_code == 0
    assert FakeAsr.sources == ["c.wav"]

    FakeAsr.sources.clear()
    assert invoke(*args, "--overwrite").exit_code == 0
    assert FakeAsr.sources == ["a.wav", "b.wav", "c.wav"]


def test_a_writer_that_raises_leaves_no_file_and_the_batch_goes_on(tmp_path: Path) -> None:
    @register_writer("t_boom")
    class Boom:
        """Write half a file, then fail."""

        extension = "boom"
        binary = False

        def write(self, transcript, fp) -> None:
            fp.write(transcript.text[:3])
            raise OSError("disk full")

    try:
        wav(tmp_path / "in" / "a.wav")
        wav(tmp_path / "in" / "b.wav")
        out = tmp_path / "out"
        result = invoke(
            "transcribe", tmp_path / "in", "-o", out, "-f", "txt,t_boom", "--stages", "t_asr"
        )
    finally:
        writer_registry.unregister("t_boom")
    assert result.exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt"]  # no .boom, no temp file
    assert result.stderr.count("OSError: disk full") == 4  # as it happens, then in the summary


def test_unknown_stage_and_format_suggest_a_name(tmp_path: Path) -> None:
    source = wav(tmp_path / "a.wav")
    result = invoke("transcribe", source, "--stages", "t_asrr")
    assert result.exit_code == 2
    assert "unknown stage 't_asrr'. Did you mean 't_asr'?" in one_line(result.stderr)
    result = invoke("transcribe", source, "--stages", "t_asr", "-f", "jsn")
    assert result.exit_code == 2
    assert "--format: unknown format 'jsn'. Did you mean 'json'?" in one_line(result.stderr)


def test_set_errors_name_the_option(tmp_path: Path) -> None:
    source = wav(tmp_path / "a.wav")
    result = invoke("transcribe", source, "--stages", "t_asr", "--set", "stages.t_asr.wrd=x")
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert message.startswith("error: stages.t_asr.wrd: unknown option 'wrd'. Did you mean 'word'?")
    result = invoke("transcribe", source, "--stages", "t_asr", "--set", "stages.t_asr.word")
    assert result.exit_code == 2
    assert one_line(result.stderr).startswith("error: --set: expected KEY.PATH=VALUE")
    result = invoke("transcribe", source, "--stages", "t_asr", "--set", "writers.txt.width=wide")
    assert "writers.txt.width: expected a whole number" in one_line(result.stderr)
    result = invoke("transcribe", source, "--stages", "t_asr", "--device", "gpu")
    assert result.exit_code == 2 and one_line(result.stderr).startswith("error: --device:")


def test_set_and_config_reach_the_stages_and_writers(tmp_path: Path) -> None:
    source = wav(tmp_path / "a.wav")
    config = tmp_path / "my.yaml"
    config.write_text("pipeline: [t_asr]\nstages:\n  t_asr: {word: да}\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ("transcribe", source, "-c", config, "-o", out, "-f", "txt")
    assert invoke(*args).exit_code == 0
    assert (out / "a.txt").read_text(encoding="utf-8") == "[00:00:00] да0 да1\n"
    result = invoke(*args, "--overwrite", "--set", "stages.t_asr.word=нет")
    assert result.exit_code == 0
    assert (out / "a.txt").read_text(encoding="utf-8") == "[00:00:00] нет0 нет1\n"


def test_verbose_shows_the_traceback(tmp_path: Path) -> None:
    source = wav(tmp_path / "a.wav")
    quiet = invoke("transcribe", source, "--stages", "nothing_like_this")
    assert "Traceback" not in quiet.stderr
    loud = invoke("transcribe", source, "--stages", "nothing_like_this", "--verbose")
    assert loud.exit_code == 2
    assert "Traceback (most recent call last)" in loud.stderr
    assert loud.stderr.strip().splitlines()[-1].startswith("error: pipeline[0]: unknown stage")


def test_library_warnings_stay_quiet_unless_verbose(tmp_path: Path) -> None:
    source = wav(tmp_path / "a.wav")
    args = ("transcribe", source, "-o", tmp_path / "out", "--stages", "t_asr,t_noisy")
    quiet = invoke(*args)
    assert quiet.exit_code == 0 and "noisy" not in quiet.output
    loud = invoke(*args, "--overwrite", "--verbose")
    assert loud.exit_code == 0 and "a noisy library warning" in loud.stderr


def test_progress_bar_runs_without_a_terminal(tmp_path: Path, capsys) -> None:
    sources = [wav(tmp_path / f"{n}.wav") for n in "ab"]
    writers = {"txt": get_writer("txt")}
    pipeline = build_pipeline(stages="t_asr")
    result = run_batch(sources, pipeline, writers, tmp_path / "out", progress=True)
    assert result.done == sources and not result.failed
    assert (tmp_path / "out" / "b.txt").exists()


# ---------------------------------------------------------------- render


def test_render_equals_what_transcribe_wrote(tmp_path: Path) -> None:
    source = wav(tmp_path / "talk.wav", 3.0)
    direct = tmp_path / "direct"
    assert invoke("transcribe", source, "-o", direct, "-f", "json,srt,vtt,txt", "--stages", "t_asr")
    rendered = tmp_path / "rendered"
    result = invoke("render", direct / "talk.json", "-f", "srt,vtt,txt", "-o", rendered)
    assert result.exit_code == 0, result.output
    for ext in ("srt", "vtt", "txt"):
        assert (rendered / f"talk.{ext}").read_bytes() == (direct / f"talk.{ext}").read_bytes()
    assert SRT_SPAN.search((rendered / "talk.srt").read_text(encoding="utf-8"))


def test_render_uses_writer_options_and_optional_stages(tmp_path: Path) -> None:
    saved = tmp_path / "a.json"
    saved.write_text(Transcript.from_text("раз два три").to_json(), encoding="utf-8")
    out = tmp_path / "out"
    args = ("render", saved, "-f", "txt", "-o", out, "--set", "writers.txt.width=4")
    assert invoke(*args).exit_code == 0
    assert (out / "a.txt").read_text(encoding="utf-8") == "раз\nдва\nтри\n"
    assert invoke(*args, "--overwrite", "--stages", "t_shout").exit_code == 0
    assert (out / "a.txt").read_text(encoding="utf-8") == "РАЗ\nДВА\nТРИ\n"


def test_render_refuses_to_replace_its_input_and_bad_json(tmp_path: Path) -> None:
    saved = tmp_path / "a.json"
    saved.write_text(Transcript.from_text("да").to_json(), encoding="utf-8")
    result = invoke("render", saved, "-f", "json", "-o", tmp_path)
    assert result.exit_code == 2 and "would replace this input" in result.stderr
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    result = invoke("render", tmp_path / "bad.json", "-f", "txt", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert "not a transcript saved as JSON" in result.stderr


# ---------------------------------------------------------------- postprocess


def test_postprocess_prints_one_line_per_input_line(tmp_path: Path) -> None:
    text = "раз два\n\n   \nтри\r\nчетыре пять\n"
    result = invoke("postprocess", "--stage", "t_shout", input=text)
    assert result.exit_code == 0, result.output
    assert result.stdout == "РАЗ ДВА\n\n\nТРИ\nЧЕТЫРЕ ПЯТЬ\n"
    path = tmp_path / "lines.txt"
    path.write_text("\ufeffпривет\nмир", encoding="utf-8")
    result = invoke("postprocess", "--stage", "t_shout", path)
    assert result.stdout == "ПРИВЕТ\nМИР\n"


def test_postprocess_runs_stages_in_the_order_given_and_in_batches() -> None:
    lines = [f"строка {i}" for i in range(1200)]
    result = invoke(
        "postprocess", "--stage", "t_suffix", "--stage", "t_shout", input="\n".join(lines)
    )
    assert result.stdout.splitlines() == [f"СТРОКА! {i}!" for i in range(1200)]
    assert Suffix.batches == [512, 512, 176]
    result = invoke("postprocess", "--stages", "t_shout,t_suffix", input="да\n")
    assert result.stdout == "ДА!\n"


def test_postprocess_defaults_to_the_configs_text_stages(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "pipeline: [t_asr, t_suffix, t_shout]\nstages:\n  t_asr: {factory: ctc}\n"
        "  t_suffix: {text: '?'}\n",
        encoding="utf-8",
    )
    result = invoke("postprocess", "-c", config, input="да нет\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "ДА? НЕТ?\n"


def test_postprocess_errors(tmp_path: Path) -> None:
    result = invoke("postprocess", "--stage", "t_shout", tmp_path / "missing.txt")
    assert result.exit_code == 2 and str(tmp_path / "missing.txt") in one_line(result.stderr)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("ok\nпривет\n".encode("cp1251"))
    result = invoke("postprocess", "--stage", "t_shout", bad)
    assert "line 2 is not UTF-8 text" in one_line(result.stderr)
    result = invoke("postprocess", "--stage", "t_shout", "--stages", "t_shout", input="x")
    assert result.exit_code == 2 and "not both" in result.stderr


# ---------------------------------------------------------------- stages and config


def test_stages_lists_every_stage_with_options(monkeypatch) -> None:
    monkeypatch.setitem(stage_registry._builtins, "t_broken", "no_such_module_here:Stage")
    result = invoke("stages")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "t_asr (local): Fake recognition: one word every half second of each segment." in out
    assert "    word: str = слово  # the word written, numbered." in out
    assert "t_broken (failed to load): ModuleNotFoundError: No module named" in out
    for name in ("vad", "ctc", "numbers", "punctuation", "casing"):
        assert re.search(rf"^{name} \(", out, re.MULTILINE), name


def test_config_init_writes_every_option_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "asr.yaml"
    result = invoke("config", "init", path, "--stages", "t_asr,t_suffix")
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    assert "  t_asr:\n    # Fake recognition" in text
    assert "    # the word written, numbered.\n    word: слово\n" in text
    expected = resolve_config({"pipeline": ["t_asr", "t_suffix"]}).to_dict()
    written = resolve_config(load_config(path)).to_dict()
    assert written["stages"] == expected["stages"]
    assert written["pipeline"] == ["t_asr", "t_suffix"]
    assert set(written["writers"]) == {"txt", "json", "srt", "vtt", "md", "docx", *ANNOTATION}
    again = invoke("config", "init", path)
    assert again.exit_code == 2 and "already exists; --force" in again.stderr
    assert invoke("config", "init", "-", "--stages", "t_shout").stdout.startswith("# asr-pipeline")


def test_config_init_default_pipeline_is_valid() -> None:
    result = invoke("config", "init", "-")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)
    assert list(data["stages"]) == ["vad", "ctc", "numbers", "punctuation", "casing"]
    assert resolve_config(data).to_dict()["stages"] == resolve_config({}).to_dict()["stages"]


def test_config_show_prints_the_effective_config(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("pipeline: [t_asr]\n", encoding="utf-8")
    result = invoke(
        "config", "show", "-c", config, "--set", "stages.t_asr.word=да", "--device", "cpu"
    )
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["pipeline"] == ["t_asr"]
    assert shown["device"] == "cpu"
    assert shown["stages"]["t_asr"] == {"factory": "t_asr", "word": "да"}
    assert shown["writers"]["srt"]["max_line_chars"] == 42
    result = invoke("config", "show", "--stages", "t_asr,ctc", "--model", "/models/my model")
    shown = yaml.safe_load(result.stdout)
    assert shown["stages"]["ctc"]["model"] == "/models/my model"
    result = invoke("config", "show", "-c", tmp_path / "none.yaml")
    assert result.exit_code == 2 and str(tmp_path / "none.yaml") in one_line(result.stderr)


def test_device_reaches_stages_that_take_one() -> None:
    result = invoke("config", "show", "--stages", "ctc", "--device", "cuda:1")
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["device"] == "cuda:1" and shown["stages"]["ctc"]["device"] == "cuda:1"


def test_module_runs_and_the_cli_imports_no_torch() -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-m", "asr_pipeline", "--version"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0 and re.fullmatch(r"asr-pipeline \S+\n", done.stdout)
    code = (
        "import sys, asr_pipeline.cli; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"
