"""The ctc stage end to end with a tiny random wav2vec2 through the real loading code."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from tiny_model import VOCAB_FILE, save_tiny_model  # noqa: E402

from asr_pipeline import Audio, ConfigError, ModelError, Pipeline, Segment, Transcript  # noqa: E402
from asr_pipeline.config import resolve_config  # noqa: E402
from asr_pipeline.ctc import DEFAULT_MODEL, CtcStage  # noqa: E402
from asr_pipeline.hub import PINNED_REVISIONS  # noqa: E402

LETTERS = set(json.loads(VOCAB_FILE.read_text("utf-8"))) - {"<pad>", "<s>", "</s>", "<unk>", "|"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model", language_model=True)


@pytest.fixture(scope="module")
def stage(model_dir):
    return CtcStage(model=str(model_dir), device="cpu", chunk_s=4.0, stride_s=0.5, batch_s=6.0)


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise bursts shaped like syllables, with pauses: enough to make the model emit letters."""
    rng = np.random.default_rng(seed)
    n = round(seconds * 16_000)
    t = np.arange(n) / 16_000
    envelope = np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) * (np.sin(2 * np.pi * 0.25 * t) > -0.3)
    tone = np.sin(2 * np.pi * (180 + 60 * np.sin(2 * np.pi * 0.7 * t)) * t)
    return ((0.3 * tone + 0.2 * rng.standard_normal(n)) * envelope).astype(np.float32)


def transcript_of(samples: np.ndarray, segments) -> Transcript:
    audio = Audio.from_array(samples, source="generated.wav")
    return Transcript(
        segments=tuple(segments), source=audio.source, duration=audio.duration, audio=audio
    )


SEGMENTS = (Segment(0.2, 2.9), Segment(3.1, 12.0), Segment(12.5, 13.4), Segment(14.0, 15.9))


def check_words(out: Transcript, segments=SEGMENTS) -> None:
    assert len(out.segments) == len(segments)
    assert out.words, "the random model should emit some letters on this audio"
    for seg, orig in zip(out.segments, segments, strict=True):
        assert (seg.start, seg.end) == (orig.start, orig.end)
        for w in seg.words:
            assert w.text and set(w.text) <= LETTERS and w.text == w.text.lower()
            assert seg.start <= w.start < w.end <= seg.end + 0.02
            assert 0.0 <= w.score <= 1.0
        starts = [w.start for w in seg.words]
        assert starts == sorted(starts)


@pytest.mark.parametrize("weights", ["safetensors", "bin"])
def test_both_weight_formats_load_and_recognise(tmp_path, weights):
    folder = save_tiny_model(tmp_path / weights, weights=weights)
    assert (folder / "model.safetensors").exists() == (weights == "safetensors")
    assert (folder / "pytorch_model.bin").exists() == (weights == "bin")
    stage = CtcStage(model=str(folder), device="cpu")
    out = stage(transcript_of(speechlike(16), SEGMENTS))
    check_words(out)
    assert out.metadata.model == str(folder)


def test_both_weight_formats_hold_the_same_model(tmp_path):
    a = CtcStage(model=str(save_tiny_model(tmp_path / "a", weights="safetensors")), device="cpu")
    b = CtcStage(model=str(save_tiny_model(tmp_path / "b", weights="bin")), device="cpu")
    t = transcript_of(speechlike(16), SEGMENTS)
    assert a(t).to_dict()["segments"] == b(t).to_dict()["segments"]


def test_greedy_loads_without_kenlm_next_to_a_language_model(model_dir):
    """In a fresh process where pyctcdecode and kenlm cannot be imported at all."""
    assert (model_dir / "language_model" / "attrs.json").exists()
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pyctcdecode", "kenlm"):
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
import numpy as np
from asr_pipeline import Audio, Pipeline
from asr_pipeline.ctc import CtcStage
stage = CtcStage(model={str(model_dir)!r}, device="cpu")
audio = Audio.from_array(np.random.default_rng(0).standard_normal(48_000).astype("float32") * 0.1)
print(len(stage(Pipeline().load(audio)).segments))
from transformers import AutoProcessor
try:
    AutoProcessor.from_pretrained({str(model_dir)!r})
except ImportError as e:
    print("processor-needs-lm", "pyctcdecode" in str(e) or "kenlm" in str(e))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.split()
    assert lines[0] == "1"
    assert "processor-needs-lm" in out.stdout  # AutoProcessor would have demanded the LM


def test_log_probs_match_the_model_run_directly(stage, model_dir):
    import torch
    from transformers import AutoFeatureExtractor, AutoModelForCTC

    samples = speechlike(3.0, seed=1)
    model = AutoModelForCTC.from_pretrained(str(model_dir)).eval()
    fe = AutoFeatureExtractor.from_pretrained(str(model_dir))
    inputs = fe(samples, sampling_rate=16_000, return_tensors="pt")
    with torch.no_grad():
        expected = torch.log_softmax(model(**inputs).logits, -1)[0].numpy()
    (ours,) = stage.backend.log_probs([samples])
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_batching_with_padding_changes_nothing(model_dir):
    t = transcript_of(speechlike(16, seed=2), SEGMENTS)
    one_by_one = CtcStage(model=str(model_dir), device="cpu", batch_s=0.1, chunk_s=30.0)
    together = CtcStage(model=str(model_dir), device="cpu", batch_s=60.0, chunk_s=30.0)
    a, b = one_by_one(t), together(t)
    assert [s.text for s in a.segments] == [s.text for s in b.segments]
    for x, y in zip(a.words, b.words, strict=True):
        assert (x.start, x.end) == (y.start, y.end)
        assert x.score == pytest.approx(y.score, abs=1e-3)


def test_int8_quantization_runs_quietly(model_dir):
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stage = CtcStage(model=str(model_dir), device="cpu", quantize="int8")
        out = stage(transcript_of(speechlike(16), SEGMENTS))
    kinds = {type(m).__module__ for m in stage.backend.model.modules()}
    assert any("quantized" in k for k in kinds)
    assert not any(type(m) is torch.nn.Linear for m in stage.backend.model.modules())
    assert len(out.segments) == len(SEGMENTS)


def test_recognition_lifts_a_single_thread_left_by_another_library(stage):
    import os

    import torch

    cores = len(os.sched_getaffinity(0))
    if cores < 2 or "OMP_NUM_THREADS" in os.environ:
        pytest.skip("needs two cores and no OMP_NUM_THREADS")
    seen = []
    hook = stage.backend.model.register_forward_hook(
        lambda *_: seen.append(torch.get_num_threads())
    )
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        stage(transcript_of(speechlike(3), [Segment(0, 3)]))
        assert torch.get_num_threads() == 1  # the process's setting is put back
    finally:
        hook.remove()
        torch.set_num_threads(before)
    assert seen and all(n == cores for n in seen)


def test_threads_option_sets_the_count_during_recognition(model_dir):
    import torch

    stage = CtcStage(model=str(model_dir), device="cpu", threads=1)
    seen = []
    stage.backend.model.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    stage(transcript_of(speechlike(3), [Segment(0, 3)]))
    assert seen == [1] and torch.get_num_threads() == before


def test_an_uncached_hub_model_offline_is_one_clear_line():
    with pytest.raises(ModelError) as caught:
        CtcStage(model="asr-pipeline-tests/no-such-cached-model", device="cpu")
    message = str(caught.value)
    assert "\n" not in message
    assert "could not be downloaded" in message
    assert "asr-pipeline models download" in message and "--model" in message


@pytest.mark.parametrize(
    ("model", "revision", "loaded"),
    [
        (DEFAULT_MODEL, None, PINNED_REVISIONS[DEFAULT_MODEL]),
        (DEFAULT_MODEL, "main", "main"),
        ("someone/other-ctc", None, None),
    ],
)
def test_the_default_model_loads_its_pinned_commit_unless_told(
    monkeypatch, model, revision, loaded
):
    import asr_pipeline.ctc.model

    asked = []

    def load_model(name, revision=None):
        asked.append((name, revision))
        raise ModelError("stop here")

    monkeypatch.setattr(asr_pipeline.ctc.model, "load_model", load_model)
    with pytest.raises(ModelError, match="stop here"):
        CtcStage(model=model, revision=revision, device="cpu")
    assert asked == [(model, loaded)]


def test_a_revision_the_hub_lacks_is_named_with_the_way_out(monkeypatch):
    import transformers

    import asr_pipeline.ctc.model

    def from_pretrained(source, **options):
        raise OSError(
            f"{options['revision']} is not a valid git identifier (branch name, tag name or "
            f"commit id) that exists for this model name."
        )

    monkeypatch.setattr(asr_pipeline.ctc.model, "ensure_reachable", lambda name, revision: None)
    monkeypatch.setattr(transformers.AutoFeatureExtractor, "from_pretrained", from_pretrained)
    with pytest.raises(ModelError) as caught:
        CtcStage(model="someone/other-ctc", revision="0123abc", device="cpu")
    message = str(caught.value)
    assert "has no revision '0123abc'" in message and "main" in message and "\n" not in message


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16_bit_on_cpu_is_refused_before_loading(dtype):
    with pytest.raises(ConfigError, match="10-15x slower") as caught:
        CtcStage(model="asr-pipeline-tests/never-loaded", device="cpu", dtype=dtype)
    assert caught.value.path == "stages.ctc.dtype"


@pytest.mark.parametrize(
    "options",
    [{"stride_s": 5.0, "chunk_s": 10.0}, {"quantize": "int4"}, {"device": "tpu"}, {"threads": 0}],
)
def test_bad_options_are_config_errors(options):
    with pytest.raises(ConfigError):
        CtcStage(model="asr-pipeline-tests/never-loaded", **options)


def test_the_pipeline_hands_its_device_to_the_stage(model_dir):
    config = resolve_config(
        {"pipeline": ["ctc"], "device": "cpu", "stages": {"ctc": {"model": str(model_dir)}}}
    )
    assert config.stages["ctc"].options["device"] == "cpu"
    pipeline = Pipeline(config)
    audio = Audio.from_array(speechlike(6), source="generated.wav")
    out = pipeline(audio)
    assert out.metadata.model == str(model_dir)
    assert out.metadata.stages == ("ctc",)
    assert len(out.segments) == 1 and out.words


def test_the_feature_encoder_in_pieces_gives_the_same_frames(model_dir):
    import torch
    from transformers import AutoModelForCTC

    from asr_pipeline.ctc.backend import chunk_feature_encoder

    model = AutoModelForCTC.from_pretrained(str(model_dir)).eval()
    x = torch.from_numpy(np.stack([speechlike(7.3, seed=3), speechlike(7.3, seed=4)]))
    with torch.inference_mode():
        whole = model.wav2vec2.feature_extractor(x)
        assert chunk_feature_encoder(model, frames=37)
        pieces = model.wav2vec2.feature_extractor(x)
    assert pieces.shape == whole.shape
    torch.testing.assert_close(pieces, whole, rtol=1e-4, atol=1e-4)


def test_group_normalised_encoders_are_left_whole(tmp_path):
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

    from asr_pipeline.ctc.backend import chunk_feature_encoder

    config = Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        conv_dim=(8,) * 7,
        feat_extract_norm="group",
        vocab_size=40,
    )
    assert not chunk_feature_encoder(Wav2Vec2ForCTC(config))


def test_int8_keeps_every_float_weight_intact(model_dir):
    import torch
    from transformers import AutoModelForCTC

    from asr_pipeline.ctc.backend import quantize_int8

    fresh = AutoModelForCTC.from_pretrained(str(model_dir)).eval()
    quantized = quantize_int8(AutoModelForCTC.from_pretrained(str(model_dir)).eval())
    kept = dict(quantized.named_parameters())
    assert kept, "the convolutions and norms stay float"
    for name, value in fresh.named_parameters():
        if name in kept:
            torch.testing.assert_close(kept[name], value, rtol=0, atol=0)
    x = torch.from_numpy(speechlike(3, seed=5))[None]
    with torch.inference_mode():
        a = fresh(x).logits.argmax(-1)
        b = quantized(x).logits.argmax(-1)
    assert (a == b).float().mean() > 0.8
