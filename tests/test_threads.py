"""One pipeline shared by threads gives what sequential calls give (no per-call state on stages)."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from asr_pipeline import Audio, Pipeline, Transcript
from asr_pipeline.vad import VadStage

if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is not installed (apt install espeak-ng)", allow_module_level=True)

from test_e2e_espeak import MODEL, SR, espeak, heldout, silence  # noqa: E402

THREADS = 4


@pytest.fixture(scope="module")
def sentences() -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs of different short phrases, spoken at different speeds."""
    texts = [" ".join(text.split()[:5]) for text in heldout(THREADS + 1)]
    return [
        (espeak(texts[i], speed=170 + 10 * i), espeak(texts[i + 1], speed=170 + 10 * i))
        for i in range(THREADS)
    ]


@pytest.fixture(scope="module")
def short_sources(sentences) -> list[Audio]:
    """Two phrases with a pause between them."""
    return [
        Audio.from_array(np.concatenate([silence(0.3), a, silence(1.0 + 0.2 * i), b]), SR)
        for i, (a, b) in enumerate(sentences)
    ]


@pytest.fixture(scope="module")
def long_sources(sentences) -> list[Audio]:
    """A phrase, a long pause, and a phrase spoken across the border of the VAD's 30.72 s
    blocks, so that each call carries the model's state from block to block."""
    sources = []
    for i, (a, b) in enumerate(sentences):
        pause = silence(30.0 + 0.1 * i - len(a) / SR, seed=i)
        sources.append(Audio.from_array(np.concatenate([silence(0.3), a, pause, b]), SR))
    return sources


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_pipeline_shared_by_threads_equals_sequential_calls(backend: str, short_sources) -> None:
    pipe = Pipeline.from_config(
        {
            "pipeline": ["vad", "ctc"],
            "device": "cpu",
            "stages": {"vad": {"backend": backend}, "ctc": {"model": str(MODEL)}},
        }
    )
    expected = [result(pipe, source) for source in short_sources]
    assert all(len(segments) == 2 for segments in expected)
    with ThreadPoolExecutor(THREADS) as pool:
        assert list(pool.map(lambda source: result(pipe, source), short_sources)) == expected


def result(pipe: Pipeline, source: Audio) -> list:
    """Segments with their timed words: everything but the creation time."""
    return [(s.start, s.end, s.words) for s in pipe(source).segments]


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_vad_scores_from_threads_equal_sequential_scores(backend: str, long_sources) -> None:
    stage = VadStage(backend=backend)

    def scores(audio: Audio) -> np.ndarray:
        return np.concatenate(list(stage.speech_probabilities(audio)))

    expected = [scores(source) for source in long_sources]
    with ThreadPoolExecutor(THREADS) as pool:
        got = list(pool.map(scores, long_sources))
    for one, want in zip(got, expected, strict=True):
        np.testing.assert_array_equal(one, want)


def test_text_stages_shared_by_threads_equal_sequential_calls(tmp_path: Path) -> None:
    from test_punctuation import PLAIN, save_classifier
    from transformers import BertForTokenClassification

    folder = save_classifier(tmp_path, dict(enumerate(PLAIN)), 0)
    network = BertForTokenClassification.from_pretrained(folder)
    torch.manual_seed(1)  # labels that depend on the words, unlike the saved constant ones
    torch.nn.init.normal_(network.classifier.weight, std=2.0)
    torch.nn.init.zeros_(network.classifier.bias)
    network.save_pretrained(folder)
    pipe = Pipeline.from_config(
        {
            "pipeline": ["numbers", "punctuation", "casing"],
            "stages": {
                "punctuation": {"model": str(folder), "device": "cpu", "window": 32, "overlap": 8}
            },
        }
    )
    texts = [f"{text} и ещё двадцать {n} рубля" for n, text in enumerate(heldout(16))]
    expected = [pipe(Transcript.from_text(text)).text for text in texts]
    marks = [sum(char in ".,?:—" for char in text) for text in expected]
    assert len(set(marks)) > 1  # the marks differ from text to text
    with ThreadPoolExecutor(THREADS) as pool:
        got = list(pool.map(lambda text: pipe(Transcript.from_text(text)).text, texts))
    assert got == expected
