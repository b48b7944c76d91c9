"""The ctc stage's ONNX Runtime backend: export, cache, int8, and agreement with torch."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from test_ctc_model import SEGMENTS, check_words, speechlike, transcript_of  # noqa: E402
from tiny_model import save_tiny_model  # noqa: E402

from asr_pipeline import ConfigError, MissingDependencyError, ModelError, Segment  # noqa: E402
from asr_pipeline.ctc import CtcStage  # noqa: E402
from asr_pipeline.ctc.onnx_backend import intra_op_threads, providers_for  # noqa: E402
from asr_pipeline.ctc.onnx_export import (  # noqa: E402
    MANIFEST,
    MODEL_FILE,
    cache_root,
    entry_folder,
    export_key,
)

WINDOWS = {"chunk_s": 4.0, "stride_s": 0.5, "batch_s": 6.0}  # windows, stitching, padding


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def cache(shared_cache, monkeypatch):
    monkeypatch.setenv("ASR_PIPELINE_CACHE", str(shared_cache))
    return shared_cache


@pytest.fixture(scope="module")
def torch_stage(model_dir):
    return CtcStage(model=str(model_dir), device="cpu", **WINDOWS)


def onnx_stage(model_dir, **options) -> CtcStage:
    return CtcStage(model=str(model_dir), device="cpu", backend="onnx", **{**WINDOWS, **options})


def exports(cache) -> list[str]:
    folder = cache / "onnx"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def op_types(path) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load(str(path)).graph.node}


def test_export_is_cached_and_loaded_without_torch_weights(model_dir, cache, capsys, monkeypatch):
    first = onnx_stage(model_dir)
    said = capsys.readouterr().err
    assert "Exporting" in said and "ONNX" in said and "done in" in said
    path = first.backend.path
    assert path.name == MODEL_FILE and path.parent.parent == cache / "onnx"
    assert (path.parent / MANIFEST).is_file()
    assert not any(p.name.startswith(".") for p in (cache / "onnx").iterdir())
    assert first.backend.attention_mask  # the tiny feature extractor returns a mask
    assert not list(model_dir.glob("*.onnx"))  # nothing beside the weights
    stamp = path.stat().st_mtime_ns

    from asr_pipeline.ctc import model

    def no_weights(*args, **kwargs):
        raise AssertionError("the torch model was loaded")

    monkeypatch.setattr(model, "load_model", no_weights)
    second = onnx_stage(model_dir)
    assert capsys.readouterr().err == ""
    assert second.backend.path == path and path.stat().st_mtime_ns == stamp


def test_fp32_text_and_times_equal_torch(model_dir, torch_stage):
    transcript = transcript_of(speechlike(16), SEGMENTS)
    ours = onnx_stage(model_dir)(transcript)
    theirs = torch_stage(transcript)
    check_words(ours)
    assert [s.text for s in ours.segments] == [s.text for s in theirs.segments]
    for a, b in zip(ours.words, theirs.words, strict=True):
        assert (a.start, a.end) == (b.start, b.end)
        assert a.score == pytest.approx(b.score, abs=1e-4)
    assert ours.metadata.model == theirs.metadata.model == str(model_dir)


@pytest.mark.parametrize("one_at_a_time", [True, False], ids=["cpu-one-by-one", "padded-batch"])
def test_log_probs_close_to_torch_in_a_batch(model_dir, torch_stage, one_at_a_time):
    batch = [speechlike(3.0, seed=1), speechlike(1.3, seed=2), speechlike(0.4, seed=3)]
    backend = onnx_stage(model_dir).backend
    assert backend.one_at_a_time  # on CPU; a GPU runs the padded batch in one call
    backend.one_at_a_time = one_at_a_time
    ours = backend.log_probs(batch)
    theirs = torch_stage.backend.log_probs(batch)
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape and a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


def test_int8_is_quantized_cached_and_keyed_apart(model_dir, cache, capsys):
    fp32 = onnx_stage(model_dir)
    capsys.readouterr()
    int8 = onnx_stage(model_dir, quantize="int8")
    assert "int8" in capsys.readouterr().err
    assert int8.backend.path != fp32.backend.path
    assert "MatMulInteger" in op_types(int8.backend.path)
    assert "MatMulInteger" not in op_types(fp32.backend.path)
    assert "IsNaN" not in op_types(fp32.backend.path)  # plain attention, not SDPA's ONNX form
    onnx_stage(model_dir, quantize="int8")
    assert capsys.readouterr().err == ""  # cached
    out = int8(transcript_of(speechlike(16), SEGMENTS))
    assert len(out.segments) == len(SEGMENTS) and out.words


def test_cache_key_changes_with_what_the_export_depends_on(model_dir, tmp_path):
    base = export_key(str(model_dir), None, "none", True)
    assert entry_folder(base) != entry_folder(export_key(str(model_dir), None, "int8", True))
    assert entry_folder(base) != entry_folder(export_key(str(model_dir), None, "none", False))
    assert set(base["versions"]) == {"torch", "transformers", "onnx", "onnxruntime"}
    hub = export_key("org/model", "abc123", "none", True)
    assert hub["revision"] == "abc123"
    assert entry_folder(hub) != entry_folder(export_key("org/model", "def456", "none", True))
    assert entry_folder(hub).name.startswith("org--model-none-")

    copy = save_tiny_model(tmp_path / "model")
    before = entry_folder(export_key(str(copy), None, "none", True))
    weights = copy / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert entry_folder(export_key(str(copy), None, "none", True)) != before


def fake_hub_snapshot(hub, repo: str, commit: str, seed: int) -> None:
    """A model laid out as the hub cache holds it, with ``refs/main`` at ``commit``."""
    folder = hub / f"models--{repo.replace('/', '--')}"
    save_tiny_model(folder / "snapshots" / commit, seed=seed)
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(commit)


def test_a_hub_model_is_keyed_and_recorded_by_its_commit(tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("ASR_PIPELINE_CACHE", str(tmp_path / "cache"))
    repo, first, second = "asr-pipeline-tests/tiny-ctc", "a" * 40, "b" * 40
    fake_hub_snapshot(tmp_path / "hub", repo, first, seed=0)
    old = CtcStage(model=repo, device="cpu", backend="onnx")
    assert old.revision == first
    assert old.backend.path.parent.name.startswith("asr-pipeline-tests--tiny-ctc-none-")

    fake_hub_snapshot(tmp_path / "hub", repo, second, seed=1)  # the model was updated
    capsys.readouterr()
    new = CtcStage(model=repo, device="cpu", backend="onnx")
    assert "Exporting" in capsys.readouterr().err
    assert new.revision == second and new.backend.path != old.backend.path
    pinned = CtcStage(model=repo, revision=first, device="cpu", backend="onnx")
    assert pinned.backend.path == old.backend.path and pinned.revision == first


@pytest.mark.parametrize("damage", ["truncate", "no-manifest", "edit-manifest", "extra-file"])
def test_a_broken_entry_is_rebuilt_not_loaded(model_dir, tmp_path, monkeypatch, capsys, damage):
    monkeypatch.setenv("ASR_PIPELINE_CACHE", str(tmp_path))
    path = onnx_stage(model_dir).backend.path
    size = path.stat().st_size
    if damage == "truncate":
        with path.open("r+b") as fp:
            fp.truncate(size // 2)
    elif damage == "no-manifest":
        (path.parent / MANIFEST).unlink()
    elif damage == "edit-manifest":
        manifest = json.loads((path.parent / MANIFEST).read_text())
        manifest["files"][MODEL_FILE]["sha256"] = "0" * 64
        (path.parent / MANIFEST).write_text(json.dumps(manifest))
    else:
        (path.parent / "stray.bin").write_bytes(b"x")
    capsys.readouterr()

    rebuilt = onnx_stage(model_dir)
    said = capsys.readouterr().err
    assert "broken" in said and "Exporting" in said
    assert rebuilt.backend.path == path and path.stat().st_size == size
    assert (path.parent / MANIFEST).is_file() and not (path.parent / "stray.bin").exists()
    assert rebuilt(transcript_of(speechlike(3), [Segment(0, 3)])).words


def test_an_interrupted_export_leaves_no_entry(model_dir, tmp_path, monkeypatch):
    from asr_pipeline.ctc import onnx_export

    monkeypatch.setenv("ASR_PIPELINE_CACHE", str(tmp_path))

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_export, "export_log_probs", fail)
    with pytest.raises(KeyboardInterrupt):
        onnx_stage(model_dir)
    assert exports(tmp_path) == []


def test_a_failed_export_is_one_model_error(model_dir, tmp_path, monkeypatch):
    from asr_pipeline.ctc import onnx_export

    monkeypatch.setenv("ASR_PIPELINE_CACHE", str(tmp_path))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnx_export, "export_log_probs", disk_full)
    with pytest.raises(ModelError) as caught:
        onnx_stage(model_dir)
    message = str(caught.value)
    assert "\n" not in message and "No space left" in message
    assert "ASR_PIPELINE_CACHE" in message and "backend: torch" in message
    assert exports(tmp_path) == []


def test_without_an_attention_mask_the_graph_takes_none(tmp_path, monkeypatch):
    monkeypatch.setenv("ASR_PIPELINE_CACHE", str(tmp_path / "cache"))
    folder = save_tiny_model(tmp_path / "model")
    config_path = folder / "preprocessor_config.json"
    config = json.loads(config_path.read_text())
    config["return_attention_mask"] = False
    config_path.write_text(json.dumps(config))
    ours = onnx_stage(folder)
    assert not ours.backend.attention_mask
    assert ours.backend.input_names == ["input_values"]
    transcript = transcript_of(speechlike(8), [Segment(0.2, 7.5)])
    a = ours(transcript).words
    b = CtcStage(model=str(folder), device="cpu", **WINDOWS)(transcript).words
    assert a and [(w.text, w.start, w.end) for w in a] == [(w.text, w.start, w.end) for w in b]


def test_missing_onnxruntime_names_the_extra_before_loading(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError) as caught:
        CtcStage(model="asr-pipeline-tests/never-loaded", device="cpu", backend="onnx")
    assert "pip install 'asr-pipeline[onnx]'" in str(caught.value)
    assert "onnxruntime" in str(caught.value)


def test_threads_option_sets_intra_op_threads(model_dir, monkeypatch):
    stage = onnx_stage(model_dir, threads=1)
    assert stage.backend.threads == 1
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert intra_op_threads(None) == len(os.sched_getaffinity(0))
    assert intra_op_threads(3) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert intra_op_threads(None) == 2


def test_cuda_uses_the_cuda_provider_or_says_it_falls_back():
    providers, notice = providers_for("cuda:1", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert providers[0] == ("CUDAExecutionProvider", {"device_id": 1}) and notice is None
    providers, notice = providers_for("cuda", ["CPUExecutionProvider"])
    assert providers == ["CPUExecutionProvider"]
    assert notice and "onnxruntime-gpu" in notice and "CPU" in notice
    assert providers_for("cpu", ["CUDAExecutionProvider"]) == (["CPUExecutionProvider"], None)


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ASR_PIPELINE_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "mine"
    monkeypatch.delenv("ASR_PIPELINE_CACHE")
    assert cache_root() == tmp_path / "xdg" / "asr-pipeline"
    monkeypatch.delenv("XDG_CACHE_HOME")
    if sys.platform.startswith("linux"):
        assert cache_root() == tmp_path.home() / ".cache" / "asr-pipeline"


@pytest.mark.parametrize(
    "options, path",
    [
        ({"backend": "tensorrt"}, "stages.ctc.backend"),
        ({"backend": "onnx", "device": "cuda", "dtype": "float16"}, "stages.ctc.dtype"),
    ],
)
def test_bad_onnx_options_are_config_errors_before_loading(options, path):
    with pytest.raises(ConfigError) as caught:
        CtcStage(model="asr-pipeline-tests/never-loaded", **options)
    assert caught.value.path == path
    assert options["backend"] in str(caught.value)
