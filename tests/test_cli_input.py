"""Bad input exits 2 with one line on every command; help shows options, not Python types."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asr_pipeline.cli import app
from asr_pipeline.errors import ConfigError, ModelError, ModelNotFoundError
from asr_pipeline.hub import ensure_reachable, is_hub_id

runner = CliRunner()
COMMANDS = [
    ["transcribe"],
    ["render"],
    ["postprocess"],
    ["eval"],
    ["stages"],
    ["config", "init"],
    ["config", "show"],
    ["models", "download"],
    ["models", "list"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_shows_no_python_types(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "--help" in result.output
    assert not re.search(r"<(bool|str|int|float|path|list\[\w+\])>", result.output), result.output


def test_render_and_postprocess_list_no_model_option_they_would_ignore() -> None:
    for command in ("render", "postprocess"):
        shown = runner.invoke(app, [command, "--help"], env={"COLUMNS": "120"}).output
        assert "--model" not in shown and "--device" in shown
        assert runner.invoke(app, [command, "x.json", "-f", "txt", "--model", "m"]).exit_code == 2


@pytest.mark.parametrize("name", ["mymodel", "./nowhere", "a/b/c", "org/", "org/name/../x"])
def test_a_model_that_is_no_folder_nor_hub_id_is_bad_input(name: str) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        ensure_reachable(name)
    assert isinstance(caught.value, ModelError) and isinstance(caught.value, ConfigError)
    assert "models download" not in str(caught.value)
    assert f"no model folder at {name}" in str(caught.value)


def test_hub_ids_look_like_org_slash_name() -> None:
    assert is_hub_id("jonatasgrosman/wav2vec2-large-xlsr-53-russian")
    assert is_hub_id("kontur-ai/sbert_punc_case_ru")
    assert not any(map(is_hub_id, ["mymodel", "/abs/path", "a/b/c", "../x", "org/.."]))


def test_transcribe_with_a_model_name_that_is_nothing_exits_2(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    source = Path(__file__).parent.parent / "examples" / "espeak_ru_sample.flac"
    arguments = ["transcribe", str(source), "-o", str(tmp_path), "--stages", "ctc"]
    result = runner.invoke(app, [*arguments, "--model", "mymodel"])
    assert result.exit_code == 2, result.output
    assert "no model folder at mymodel" in result.output
    assert "models download" not in result.output and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["postprocess", "{tmp}/missing.txt"], "missing.txt: cannot read"),
        (["config", "init", "{tmp}/no/folder/asr.yaml"], "cannot write the config here"),
        (["models", "list", "--cache-dir", "{tmp}/file"], "is not a folder"),
        (["transcribe", "{tmp}/missing.wav"], "no such file or folder"),
        (["render", "{tmp}/missing.json", "-f", "txt"], "no such file or folder"),
        (["eval", "{tmp}/missing.tsv"], "no such manifest"),
        (["config", "show", "-c", "{tmp}/missing.yaml"], "config file: no such file"),
        (["transcribe", "{tmp}/file", "--device", "gpu"], "--device"),
        (["transcribe", "{tmp}/file", "-f", "nope"], "unknown format"),
        (["transcribe", "{tmp}/file", "--set", "nope"], "KEY.PATH=VALUE"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, arguments, message) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    arguments = [a.replace("{tmp}", str(tmp_path)) for a in arguments]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["./nowhere", "nowhere"])
def test_a_punctuation_model_that_is_nothing_exits_2(tmp_path: Path, name: str) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    (tmp_path / "text.txt").write_text("привет\n", encoding="utf-8")
    arguments = ["postprocess", str(tmp_path / "text.txt"), "--stage", "punctuation"]
    result = runner.invoke(app, [*arguments, "--set", f"stages.punctuation.model={name}"])
    assert result.exit_code == 2, result.output
    assert "no" in result.output and "folder" in result.output
    assert "models download" not in result.output
