"""Word confidence from prescribed CTC posteriors: exact frame values, word aggregation, greedy
and beam words alike, the stage option."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from asr_pipeline.ctc import CtcVocabulary, GreedyDecoder
from asr_pipeline.ctc.confidence import (
    METHODS,
    Confidence,
    spelling_posteriors,
    word_posteriors,
)

VOCAB = json.loads((Path(__file__).parent / "fixtures" / "ru_vocab.json").read_text("utf-8"))
LABELS = tuple(sorted(VOCAB, key=VOCAB.get))
VOCABULARY = CtcVocabulary(LABELS, blank=0, delimiter=VOCAB["|"], ignored=frozenset({1, 2, 3}))
FRAME_S = 0.02
HALF_QUARTERS = np.log([[0.5, 0.25, 0.25]])


def test_frame_confidence_of_a_prescribed_distribution() -> None:
    # Tsallis, alpha 0.75: S = (1 - sum p^0.75) / (0.75 - 1); uniform over 3: (1 - 3^0.25) / -0.25
    tsallis = (1 - (0.5**0.75 + 2 * 0.25**0.75)) / -0.25
    uniform = (1 - 3**0.25) / -0.25
    assert Confidence("tsallis", 0.75, "lin").frames(HALF_QUARTERS)[0] == pytest.approx(
        1 - tsallis / uniform
    )
    assert 1 - tsallis / uniform == pytest.approx(0.04544, abs=1e-5)
    # Shannon: 1.5 ln 2 nats out of ln 3.
    assert Confidence("gibbs", normalisation="lin").frames(HALF_QUARTERS)[0] == pytest.approx(
        1 - 1.5 * math.log(2) / math.log(3)
    )
    exp = Confidence("gibbs", normalisation="exp").frames(HALF_QUARTERS)[0]
    assert exp == pytest.approx((3 * math.exp(-1.5 * math.log(2)) - 1) / 2)
    renyi = Confidence("renyi", 0.5, "lin").frames(HALF_QUARTERS)[0]
    assert renyi == pytest.approx(1 - 2 * math.log(0.5**0.5 + 2 * 0.5) / math.log(3))
    assert METHODS["max_prob"].frames(HALF_QUARTERS)[0] == pytest.approx(0.5)


@pytest.mark.parametrize("measure", ["tsallis", "renyi", "gibbs"])
@pytest.mark.parametrize("normalisation", ["lin", "exp"])
def test_a_certain_frame_scores_one_and_a_uniform_frame_zero(measure, normalisation) -> None:
    certain = np.log(np.eye(40)[[5]] + 1e-30)
    uniform = np.log(np.full((1, 40), 1 / 40))
    method = Confidence(measure, 0.5, normalisation)
    assert method.frames(certain)[0] == pytest.approx(1.0, abs=1e-4)
    assert method.frames(uniform)[0] == pytest.approx(0.0, abs=1e-9)


def frames_of(*rows: dict[str, float]) -> np.ndarray:
    """Log-probabilities: each row's labels at their probabilities, the rest shared evenly."""
    out = []
    for row in rows:
        probs = np.full(len(LABELS), (1 - sum(row.values())) / (len(LABELS) - len(row)))
        for label, p in row.items():
            probs[VOCAB[label]] = p
        out.append(probs)
    return np.log(np.stack(out))


# frames: 0 blank, 1 д, 2 blank, 3 а (doubtful), 4-5 blank, 6 |, 7-9 blank, 10 н, 11 blank, 12 е
DA_NE = frames_of(
    {"<pad>": 0.97},
    {"д": 0.9},
    {"<pad>": 0.8},
    {"а": 0.5, "о": 0.4},
    {"<pad>": 0.97},
    {"<pad>": 0.97},
    {"|": 0.95},
    {"<pad>": 0.97},
    {"<pad>": 0.97},
    {"<pad>": 0.97},
    {"н": 0.9},
    {"<pad>": 0.9},
    {"е": 0.9},
)


def test_entropy_words_multiply_their_span_and_context_and_max_prob_averages_letters() -> None:
    entropy = replace(METHODS["entropy"], posterior=False)
    frame = entropy.frames(DA_NE)
    da, ne = GreedyDecoder(VOCABULARY, entropy).decode(DA_NE, 2.0, FRAME_S)
    assert (da.text, da.start, da.end, ne.text, ne.start, ne.end) == (
        "да",
        2.02,
        2.08,
        "не",
        2.2,
        2.26,
    )
    # да: letters on frames 1..3, eight frames of context either side: frames 0..11;
    # не: letters on frames 10..12, from frame 2 to the end.
    assert da.score == pytest.approx(float(np.prod(frame[0:12])), abs=1e-4)
    assert ne.score == pytest.approx(float(np.prod(frame[2:13])), abs=1e-4)
    assert da.score < ne.score  # the а frame hesitated between а and о
    baseline = GreedyDecoder(VOCABULARY, METHODS["max_prob"]).decode(DA_NE, 2.0, FRAME_S)
    assert [w.score for w in baseline] == pytest.approx([(0.9 + 0.5) / 2, 0.9], abs=1e-4)


def test_aggregations_over_letter_frames() -> None:
    values = np.array([0.9, 0.1, 0.5, 0.8])
    assert Confidence(aggregate="min", span=False).word(values, [0, 2]) == 0.5
    assert Confidence(aggregate="mean", span=False).word(values, [0, 3]) == 0.85
    assert Confidence(aggregate="prod", span=False).word(values, [0, 3]) == 0.72
    assert Confidence(aggregate="min", span=True, context=0).word(values, [0, 2]) == 0.1
    assert Confidence(aggregate="min", span=True, context=1).word(values, [2]) == 0.1
    assert Confidence().word(values, []) == 0.0


def test_beam_words_scored_on_frames_alone_match_greedy_words() -> None:
    pytest.importorskip("pyctcdecode")
    pytest.importorskip("kenlm")
    from asr_pipeline.ctc.beam import BeamDecoder

    for method in (METHODS["max_prob"], replace(METHODS["entropy"], posterior=False)):
        greedy = GreedyDecoder(VOCABULARY, method).decode(DA_NE, 1.0, FRAME_S)
        beamed = BeamDecoder(VOCABULARY, None, workers=1, confidence=method).decode(
            DA_NE, 1.0, FRAME_S
        )
        assert [(w.text, w.start, w.end) for w in beamed] == [
            (w.text, w.start, w.end) for w in greedy
        ]
        assert [w.score for w in beamed] == pytest.approx([w.score for w in greedy], abs=1e-4)


def test_beam_words_take_their_n_best_posterior() -> None:
    pytest.importorskip("pyctcdecode")
    pytest.importorskip("kenlm")
    from asr_pipeline.ctc.beam import BeamDecoder

    entropy = METHODS["entropy"]
    frames_alone = replace(entropy, posterior=False)
    da, ne = GreedyDecoder(VOCABULARY, frames_alone).decode(DA_NE, 1.0, FRAME_S)
    beam_da, beam_ne = BeamDecoder(VOCABULARY, None, workers=1, confidence=entropy).decode(
        DA_NE, 1.0, FRAME_S
    )
    assert (beam_da.text, beam_ne.text) == ("да", "не")
    # The frame confidence's square root times the posterior: "до не" is nearly as likely as
    # "да не" (а 0.5 against о 0.4), while only far weaker beams ("да н", "да е") doubt не.
    posterior_da = beam_da.score / math.sqrt(da.score)
    posterior_ne = beam_ne.score / math.sqrt(ne.score)
    assert 0.3 < posterior_da < 0.7
    assert 0.75 < posterior_ne <= 1.0
    assert beam_da.score < beam_ne.score


def test_spelling_posteriors_sum_every_path_that_spells_the_word() -> None:
    # labels: 0 blank, 1 a, 2 b, 3 a second silent label (a word delimiter)
    frame = [0.1, 0.5, 0.3, 0.1]
    lp = np.log([frame, frame, frame])
    # one frame: only "a"; two frames: aa, a_, _a (silence 0.2 a frame)
    assert spelling_posteriors(lp[:1], [([1], 0, 1)], [0, 3]) == pytest.approx([0.5])
    assert spelling_posteriors(lp[:2], [([1], 0, 2)], [0, 3]) == pytest.approx([0.45])
    assert spelling_posteriors(lp[:2], [([2], 0, 2)], [0, 3]) == pytest.approx([0.21])
    # a repeated letter needs silence between: a_a only
    assert spelling_posteriors(lp, [([1, 1], 0, 3)], [0, 3]) == pytest.approx([0.05])
    # ab over three frames: abb, aab, a_b, _ab, ab_ (abb: 0.5 * 0.3 * 0.3)
    assert spelling_posteriors(lp, [([1, 2], 0, 3)], [0, 3]) == pytest.approx(
        [0.045 + 0.075 + 0.03 + 0.03 + 0.03]
    )
    # context widens the window up to, not into, the neighbour's letters
    words = [([1], 0, 1), ([2], 2, 3)]
    assert spelling_posteriors(lp, words, [0, 3], context=0) == pytest.approx([0.5, 0.3])
    assert spelling_posteriors(lp, words, [0, 3], context=1) == pytest.approx([0.45, 0.21])


def test_spelling_posteriors_are_computed_in_bounded_batches(monkeypatch) -> None:
    import asr_pipeline.ctc.confidence as confidence

    rng = np.random.default_rng(3)
    logits = rng.normal(size=(80, 4)) * 2
    lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    words = [([1, 2], 2, 6), ([2], 10, 12), ([1, 2, 1, 2, 1], 20, 60), ([2, 1], 64, 70)]
    whole = spelling_posteriors(lp, words, [0, 3])
    # tables of 60 cells: each short word alone (8 frames x 5 states = 40 for the first, two
    # words together 80), the long one never
    monkeypatch.setattr(confidence, "SPELLING_CELLS", 60)
    bounded = spelling_posteriors(lp, words, [0, 3])
    assert bounded[2] is None  # 44 frames x 11 states
    assert [bounded[i] for i in (0, 1, 3)] == pytest.approx([whole[i] for i in (0, 1, 3)])
    assert all(0.0 < value < 1.0 for value in whole)


def test_greedy_words_take_the_posterior_of_their_spelling() -> None:
    entropy = METHODS["entropy"]
    frames_alone = replace(entropy, posterior=False)
    da, ne = GreedyDecoder(VOCABULARY, frames_alone).decode(DA_NE, 1.0, FRAME_S)
    silent = [VOCABULARY.blank, VOCABULARY.delimiter, *VOCABULARY.ignored]
    spelled = [([VOCAB["д"], VOCAB["а"]], 1, 4), ([VOCAB["н"], VOCAB["е"]], 10, 13)]
    posteriors = spelling_posteriors(DA_NE, spelled, silent, context=2)
    scored = GreedyDecoder(VOCABULARY, entropy).decode(DA_NE, 1.0, FRAME_S)
    assert [w.score for w in scored] == pytest.approx(
        [math.sqrt(da.score) * posteriors[0], math.sqrt(ne.score) * posteriors[1]], abs=1e-4
    )
    # да's а frame split 0.5 against о 0.4: its spelling holds well under 0.5
    assert posteriors[0] < 0.5 < posteriors[1]


def test_word_posteriors_sum_the_beams_that_hold_the_word_at_that_time() -> None:
    beams = [
        (0.0, [("да", (1, 4)), ("не", (10, 13))]),
        (-1.0, [("до", (1, 4)), ("не", (11, 13))]),
        (-2.0, [("не", (10, 13)), ("да", (20, 22))]),  # да too, but later
    ]
    shares = np.exp([0.0, -1.0, -2.0]) / np.exp([0.0, -1.0, -2.0]).sum()
    assert word_posteriors(beams, 1.0) == pytest.approx([shares[0], 1.0])
    flatter = np.exp([0.0, -0.5, -1.0]) / np.exp([0.0, -0.5, -1.0]).sum()
    assert word_posteriors(beams, 2.0) == pytest.approx([flatter[0], 1.0])
    assert word_posteriors(beams[:1], 2.0) == [1.0, 1.0]
    assert word_posteriors([], 2.0) == []


def test_the_ctc_stage_option_chooses_the_method_and_refuses_others() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from asr_pipeline.ctc import CtcStage
    from asr_pipeline.errors import ConfigError

    model = str(Path(__file__).parent / "fixtures" / "espeak-ru-tiny")
    stage = CtcStage(model=model, device="cpu", confidence="max_prob")
    assert stage.decoder.confidence == METHODS["max_prob"]
    assert CtcStage(model=model, device="cpu").decoder.confidence == METHODS["entropy"]
    with pytest.raises(ConfigError, match="stages.ctc.confidence"):
        CtcStage(model=model, device="cpu", confidence="vibes")
