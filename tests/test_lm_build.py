"""`asr-pipeline lm build`: Kneser-Ney ARPA from the user's text, read by the beam decoder."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from asr_pipeline.cli import app
from asr_pipeline.train.lm import ALPHAS, BETAS, write_language_model
from tests.tiny_model import save_tiny_model

kenlm = pytest.importorskip("kenlm")
pytest.importorskip("pyctcdecode")
pytest.importorskip("transformers")

runner = CliRunner()
SYLLABLES = "ма ка ра по лу ни се то ды вя".split()
WORDS = sorted({a + b + c for a in SYLLABLES for b in SYLLABLES[:6] for c in ("", "н", "т")})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def random_corpus(sentences: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]  # Zipf-like, as text is
    return [" ".join(rng.choices(WORDS, weights, k=rng.randint(3, 8))) for _ in range(sentences)]


def conditional_sum(model: kenlm.Model, context: list[str], vocabulary: list[str]) -> float:
    state = kenlm.State()
    if context and context[0] == "<s>":
        model.BeginSentenceWrite(state)
        context = context[1:]
    else:
        model.NullContextWrite(state)
    for word in context:
        after = kenlm.State()
        model.BaseScore(state, word, after)
        state = after
    return sum(10 ** model.BaseScore(state, w, kenlm.State()) for w in vocabulary)


def test_kneser_ney_distributions_sum_to_one(tmp_path: Path):
    summary = write_language_model(random_corpus(400), tmp_path / "lm", order=3)
    assert all(len(d) == 3 for d in summary.discounts.values())  # modified KN: 3 per order
    assert summary.smoothing().startswith("modified Kneser-Ney")
    model = kenlm.Model(str(tmp_path / "lm" / "lm.arpa"))
    known = (tmp_path / "lm" / "unigrams.txt").read_text(encoding="utf-8").split()
    vocabulary = [*known, "</s>", "<unk>"]
    common, rare = WORDS[0], known[-1]
    for context in ([], ["<s>"], [common], [common, WORDS[1]], [rare, common], [rare, rare]):
        assert conditional_sum(model, context, vocabulary) == pytest.approx(1.0, abs=1e-3)


def test_small_corpus_falls_back_to_one_discount(tmp_path: Path):
    summary = write_language_model(["привет мир", "привет всем"], tmp_path / "lm", order=3)
    assert summary.discounts[3] == [pytest.approx(1.0)] or len(summary.discounts[3]) == 1
    assert "one discount for order(s)" in summary.smoothing()


def prescribed_log_probs(vocab: dict[str, int], spelling: list[dict[str, float]]) -> np.ndarray:
    """Two frames per character then a blank; a dict gives the frame's label probabilities."""
    frames = []
    for probs in spelling:
        for _ in range(2):
            frame = np.full(len(vocab), 1e-4)
            for label, p in probs.items():
                frame[vocab[label]] = p
            frames.append(frame)
        blank = np.full(len(vocab), 1e-4)
        blank[vocab["<pad>"]] = 0.99
        frames.append(blank)
    frames = np.array(frames)
    return np.log(frames / frames.sum(axis=1, keepdims=True)).astype(np.float32)


def test_lm_build_then_beam_decode(tiny: Path, tmp_path: Path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Привет, мир!\nМир: 12 раз.\nпривет МИР\n", encoding="utf-8")
    lm_dir = tmp_path / "lm"
    result = runner.invoke(
        app, ["lm", "build", str(corpus), "-o", str(lm_dir), "--model", str(tiny), "--verbose"]
    )
    assert result.exit_code == 0, result.output
    assert "4 sentences" in result.output  # "Мир: 12 раз." is cut in two at the digits
    assert "built in" in result.output and "3-grams" in result.output
    unigrams = (lm_dir / "unigrams.txt").read_text(encoding="utf-8").split()
    assert sorted(unigrams) == ["мир", "привет", "раз"]  # digits split the line, case folded

    from transformers import AutoTokenizer

    from asr_pipeline.ctc.beam import BeamOptions
    from asr_pipeline.ctc.decode import CtcVocabulary, GreedyDecoder

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    vocab = tokenizer.get_vocab()
    vocabulary = CtcVocabulary.from_tokenizer(tokenizer, 40)
    spelling = [{c: 0.95} for c in "привет"] + [{"|": 0.95}]
    spelling += [{"м": 0.95}, {"ы": 0.55, "и": 0.45}, {"р": 0.95}]
    log_probs = prescribed_log_probs(vocab, spelling)
    greedy = " ".join(w.text for w in GreedyDecoder(vocabulary).decode(log_probs, 0.0, 0.02))
    assert greedy == "привет мыр"
    decoder = BeamOptions(lm=str(lm_dir), alpha=0.5, beta=1.0, workers=1).build(
        vocabulary, str(tiny), None
    )
    try:
        words = decoder.decode(log_probs, 0.0, 0.02)
    finally:
        decoder.close()
    assert " ".join(w.text for w in words) == "привет мир"


def test_lm_build_tune_stores_the_best_weights(tmp_path: Path):
    import torch
    from transformers import Wav2Vec2ForCTC

    tiny = save_tiny_model(tmp_path / "model")
    model = Wav2Vec2ForCTC.from_pretrained(tiny)
    with torch.no_grad():  # mostly blanks, as a trained model: a random one's flat output
        model.lm_head.bias[0] = 6.0  # makes every beam search slow
    model.save_pretrained(tiny)
    rng = np.random.default_rng(0)
    rows = []
    for i, text in enumerate(["привет мир", "мир привет"]):
        sf.write(tmp_path / f"{i}.wav", rng.normal(0, 0.1, 24_000).astype(np.float32), 16_000)
        rows.append(f"{i}.wav\t{text}")
    dev = tmp_path / "dev.tsv"
    dev.write_text("audio\ttext\n" + "\n".join(rows) + "\n", encoding="utf-8")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("привет мир\nмир привет\n", encoding="utf-8")
    lm_dir = tmp_path / "lm"
    result = runner.invoke(
        app,
        ["lm", "build", str(corpus), "-o", str(lm_dir), "--model", str(tiny), "--tune", str(dev)],
    )
    assert result.exit_code == 0, result.output
    attrs = json.loads((lm_dir / "attrs.json").read_text(encoding="utf-8"))
    build = json.loads((lm_dir / "build.json").read_text(encoding="utf-8"))
    grid = build["tuning"]["grid"]
    assert len(grid) == len(ALPHAS) * len(BETAS)
    best = min(grid, key=lambda g: (g["wer"], g["cer"]))
    assert (attrs["alpha"], attrs["beta"]) == (best["alpha"], best["beta"])
    assert f"alpha {attrs['alpha']}, beta {attrs['beta']}" in result.output


def test_lm_build_bad_input_exits_2(tiny: Path, tmp_path: Path):
    result = runner.invoke(app, ["lm", "build", str(tmp_path / "nope.txt"), "-o", str(tmp_path)])
    assert result.exit_code == 2 and "no such corpus file" in result.output
    empty = tmp_path / "digits.txt"
    empty.write_text("123 456\n", encoding="utf-8")
    result = runner.invoke(
        app, ["lm", "build", str(empty), "-o", str(tmp_path / "lm"), "--model", str(tiny)]
    )
    assert result.exit_code != 0 and "no sentence in the model's alphabet" in result.output
