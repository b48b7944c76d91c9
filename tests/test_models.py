"""``asr-pipeline models``: listing a hand-made hub cache, and downloading without network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asr_pipeline.cli import app
from asr_pipeline.cli.models import format_size
from asr_pipeline.ctc import DEFAULT_MODEL
from asr_pipeline.errors import ModelError
from asr_pipeline.hub import PINNED_REVISIONS
from asr_pipeline.models import cached_models, download_model, skipped_files
from tests.hub_cache import add_snapshot

pytest.importorskip("huggingface_hub")

runner = CliRunner()
COMMIT = "f99a4db0c3f5a8e2b1d7c6e5f4a3b2c1d0e9f8a7"
OLD_COMMIT = "77c5e23aa1b2c3d4e5f60718293a4b5c6d7e8f90"


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    cache = tmp_path / "hub"
    add_snapshot(
        cache,
        "jonatasgrosman/wav2vec2-large-xlsr-53-russian",
        COMMIT,
        {
            "config.json": b"{}",
            "model.safetensors": b"w" * 2_500,
            "language_model/lm.binary": b"l" * 1_500,
            "language_model/unigrams.txt": b"word\n",
            "language_model/attrs.json": b"{}",
        },
        "main",
    )
    add_snapshot(
        cache,
        "jonatasgrosman/wav2vec2-large-xlsr-53-russian",
        OLD_COMMIT,
        {"config.json": b"{ }", "pytorch_model.bin": b"b" * 900},
        None,
    )
    add_snapshot(cache, "someone/tiny-ctc", "a" * 40, {"config.json": b"{}"}, "v1")
    return cache


def test_cached_models_lists_each_revision_with_size_and_language_model(cache: Path) -> None:
    found = cached_models(cache)
    assert [(m.model, m.revision) for m in found] == [
        ("jonatasgrosman/wav2vec2-large-xlsr-53-russian", OLD_COMMIT),
        ("jonatasgrosman/wav2vec2-large-xlsr-53-russian", COMMIT),
        ("someone/tiny-ctc", "a" * 40),
    ]
    old, new, tiny = found
    assert new.refs == ("main",) and old.refs == () and tiny.refs == ("v1",)
    assert new.size == 2 + 2_500 + 1_500 + 5 + 2 and new.files == 5
    assert new.language_model and not old.language_model and not tiny.language_model
    assert new.path == cache / "models--jonatasgrosman--wav2vec2-large-xlsr-53-russian" / (
        f"snapshots/{COMMIT}"
    )


def test_models_list_reads_hf_hub_cache(cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["MODEL", "REVISION", "REFS", "SIZE", "FILES", "LM"]
    new = next(line for line in lines if COMMIT[:12] in line).split()
    assert new == [
        "jonatasgrosman/wav2vec2-large-xlsr-53-russian",
        COMMIT[:12],
        "main",
        "4.0",
        "kB",
        "5",
        "yes",
    ]
    assert any(line.split()[:3] == ["someone/tiny-ctc", "a" * 12, "v1"] for line in lines)


def test_models_list_on_an_empty_cache_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["models", "list", "--cache-dir", str(tmp_path / "none")])
    assert result.exit_code == 0
    assert "no models in" in result.output and str(tmp_path / "none") in result.output


def test_download_offline_says_what_to_do(tmp_path: Path) -> None:
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # conftest: tests never reach the network
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE is set"):
        download_model("someone/tiny-ctc", directory=tmp_path)
    result = runner.invoke(
        app, ["models", "download", "someone/tiny-ctc", "--revision", "v1", "--cache-dir", tmp_path]
    )
    assert result.exit_code == 1
    assert "error: cannot download 'someone/tiny-ctc' at revision v1" in result.output
    assert "HF_HUB_OFFLINE" in result.output and "Traceback" not in result.output


def test_downloads_skip_weights_that_would_not_be_loaded() -> None:
    files = ["config.json", "model.safetensors", "pytorch_model.bin", "flax_model.msgpack"]
    assert "pytorch_model*.bin" in skipped_files(files)
    assert "pytorch_model*.bin" not in skipped_files(["config.json", "pytorch_model.bin"])
    assert "flax_model*" in skipped_files(files) and "*.h5" in skipped_files(files)
    assert "language_model/*" not in skipped_files(files)
    assert "language_model/*" in skipped_files(files, language_model=False)


def test_sizes_read_in_decimal_units() -> None:
    assert [format_size(n) for n in (0, 999, 1_000, 1_490_000_000)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "1.5 GB",
    ]


def test_download_fetches_a_snapshot_without_unwanted_files(tmp_path: Path, monkeypatch) -> None:
    import huggingface_hub

    calls = []
    snapshot = tmp_path / "hub" / "models--someone--tiny-ctc" / "snapshots" / COMMIT

    def fake_snapshot_download(repo_id, **options):
        calls.append((repo_id, options))
        snapshot.mkdir(parents=True, exist_ok=True)
        return str(snapshot)

    monkeypatch.setattr(
        huggingface_hub.HfApi,
        "list_repo_files",
        lambda self, repo, revision=None: ["config.json", "model.safetensors", "pytorch_model.bin"],
    )
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    result = runner.invoke(
        app,
        ["models", "download", "someone/tiny-ctc", "-r", "v1", "--no-lm", "--cache-dir", tmp_path],
    )
    assert result.exit_code == 0, result.output
    ((repo_id, options),) = calls
    assert repo_id == "someone/tiny-ctc" and options["revision"] == "v1"
    assert options["cache_dir"] == tmp_path
    assert {"pytorch_model*.bin", "language_model/*"} <= set(options["ignore_patterns"])
    assert f"revision {COMMIT}" in result.output
    assert f"stages.ctc.revision={COMMIT}" in result.output


@pytest.mark.parametrize(
    ("arguments", "revision"),
    [([DEFAULT_MODEL], PINNED_REVISIONS[DEFAULT_MODEL]), (["someone/tiny-ctc"], None)],
    ids=["default-model-pinned", "other-model-newest"],
)
def test_download_without_a_revision_takes_the_pinned_commit(
    tmp_path, monkeypatch, arguments, revision
):
    import huggingface_hub

    asked = []

    def list_repo_files(self, repo, revision=None):
        asked.append((repo, revision))
        return ["config.json", "model.safetensors"]

    def snapshot_download(repo_id, **options):
        asked.append((repo_id, options["revision"]))
        folder = tmp_path / "snapshots" / COMMIT
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)

    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", list_repo_files)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    result = runner.invoke(app, ["models", "download", *arguments, "--cache-dir", tmp_path])
    assert result.exit_code == 0, result.output
    assert asked == [(arguments[0], revision), (arguments[0], revision)]


@pytest.fixture
def fake_hub(tmp_path: Path, monkeypatch) -> list[tuple[str, str | None, list[str]]]:
    """Downloads recorded as (model, revision, ignored patterns), none made."""
    import huggingface_hub

    asked: list[tuple[str, str | None, list[str]]] = []

    def snapshot_download(repo_id, **options):
        asked.append((repo_id, options["revision"], options["ignore_patterns"]))
        folder = tmp_path / "snapshots" / COMMIT
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)

    monkeypatch.setattr(
        huggingface_hub.HfApi,
        "list_repo_files",
        lambda self, repo, revision=None: ["config.json", "model.safetensors"],
    )
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return asked


def test_download_fetches_every_model_the_pipeline_loads(tmp_path: Path, fake_hub) -> None:
    from postprocess.punctuation import DEFAULT_MODEL as PUNCTUATION_MODEL

    arguments = ["models", "download", "--cache-dir", tmp_path, "--set", "stages.ctc.decoder=beam"]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    (ctc, ctc_revision, ctc_skipped), (punctuation, _, punctuation_skipped) = fake_hub
    assert (ctc, ctc_revision) == (DEFAULT_MODEL, PINNED_REVISIONS[DEFAULT_MODEL])
    assert "language_model/*" not in ctc_skipped  # beam search reads the model's own LM
    assert punctuation == PUNCTUATION_MODEL and "language_model/*" in punctuation_skipped
    assert "ctc: downloaded" in result.output and "with its language model" in result.output


def test_download_follows_the_config_file(tmp_path: Path, fake_hub) -> None:
    config = tmp_path / "asr.yaml"
    config.write_text(
        "pipeline: [vad, ctc, numbers]\nstages: {ctc: {model: someone/tiny-ctc, revision: v2}}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["models", "download", "-c", config, "--cache-dir", tmp_path])
    assert result.exit_code == 0, result.output
    assert [(m, r) for m, r, _ in fake_hub] == [("someone/tiny-ctc", "v2")]
    assert "language_model/*" in fake_hub[0][2]  # greedy decoding: no language model


def test_download_of_a_pipeline_with_local_models_fetches_nothing(tmp_path: Path, fake_hub):
    folder = Path(__file__).parent / "fixtures" / "espeak-ru-tiny"
    arguments = ["--stages", "vad,ctc", "--set", f"stages.ctc.model={folder}"]
    result = runner.invoke(app, ["models", "download", *arguments])
    assert result.exit_code == 0 and not fake_hub
    assert "nothing to download" in result.output


def test_download_refuses_a_model_and_a_config_together(tmp_path: Path, fake_hub) -> None:
    result = runner.invoke(app, ["models", "download", "someone/x", "--stages", "ctc"])
    assert result.exit_code == 2 and not fake_hub
    assert "either MODEL or -c/--set/--stages" in result.output


def test_download_with_the_hub_unreachable_says_so_at_once(tmp_path: Path, monkeypatch) -> None:
    import time

    monkeypatch.setattr("asr_pipeline.models.offline_mode", lambda: False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    started = time.monotonic()
    result = runner.invoke(app, ["models", "download", "someone/x", "--cache-dir", tmp_path])
    assert time.monotonic() - started < 5  # huggingface_hub alone retries for about 25 s
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "the Hugging Face hub cannot be reached" in (
        result.output
    )
