"""How well word confidence tells wrong words from right ones: AUROC, entropy against max_prob.

The model (default: the bundled espeak-ng demonstration model ``tests/fixtures/espeak-ru-tiny``)
hears its held-out sentences (text it never saw), each spoken by ``espeak-ng`` with a voice,
speed and pitch drawn at random (half of the voices were never heard in training, so there are
enough errors to count). Each recognised word is labelled wrong or right by aligning the
recognised words with the sentence (substitutions and insertions are wrong). The AUROC of
``1 - confidence`` for "this word is wrong" is computed for each method (0.5: no better than
chance, 1: every wrong word below every right one), for greedy and beam-search words.

Each sentence is spoken ``--voices`` times. The sentences are split in two: the even ones
choose the settings (the frame measure: entropy, alpha, normalisation, aggregation, the best few
printed; then the window of a greedy word's spelling posterior, the temperature of a beam
word's N-best posterior and the weight of the frame confidence beside them), the odd ones give
the reported figures for the library's methods (``asr_pipeline.ctc.confidence.METHODS``) and
for entropy on frames alone, so the tuning never sees the sentences it is judged on.

    python benchmarks/bench_confidence.py
    python benchmarks/bench_confidence.py --voices 1 --no-beam --seed 3

The last line is for scripts::

    auroc_entropy=X auroc_max_prob=X auroc_entropy_beam=X auroc_max_prob_beam=X words=N wrong=N
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import itertools
import random
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_MODEL = REPO / "tests" / "fixtures" / "espeak-ru-tiny"
TRAIN_VOICES = ["ru", "ru+f2", "ru+m3", "ru+klatt"]
UNSEEN_VOICES = ["ru+m7", "ru+m8", "ru+f5", "ru+klatt2"]
"""Voices the demonstration model heard in training, and voices it never heard
(scripts/train_espeak_model.py)."""


def espeak(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """16 kHz float32 speech of ``text``."""
    import soundfile as sf

    from asr_pipeline.audio import resample

    command = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text]
    wav = subprocess.run(command, check=True, capture_output=True).stdout
    data, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return resample(data, rate)


def labelled(reference: str, words: list) -> list[tuple[float, bool]]:
    """``(confidence, wrong)`` of each recognised word against the reference sentence."""
    import jiwer

    if not words:
        return []
    hypothesis = " ".join(w.text for w in words)
    wrong = [True] * len(words)
    for chunk in jiwer.process_words(reference, hypothesis).alignments[0]:
        if chunk.type == "equal":
            for i in range(chunk.hyp_start_idx, chunk.hyp_end_idx):
                wrong[i] = False
    return [(w.score, bad) for w, bad in zip(words, wrong, strict=True)]


def auroc(pairs: list[tuple[float, bool]]) -> float:
    """Area under the ROC curve of ``1 - confidence`` for "wrong": the chance that a wrong word
    is doubted more than a right one, ties counting half (Mann-Whitney)."""
    doubt = np.array([1.0 - c for c, _ in pairs])
    wrong = np.array([bad for _, bad in pairs], dtype=bool)
    if wrong.all() or not wrong.any():
        return float("nan")
    a, b = doubt[wrong][:, None], doubt[~wrong][None, :]
    return float(((a > b).sum() + 0.5 * (a == b).sum()) / (a.size * b.size))


def frame_candidates():
    """The entropy settings tried on the tuning sentences."""
    from asr_pipeline.ctc.confidence import Confidence

    frames = ((False, 0), (True, 0), (True, 2), (True, 4), (True, 8))
    for aggregate, (span, context) in itertools.product(("min", "mean", "prod"), frames):
        yield Confidence("gibbs", 1.0, "lin", aggregate, span, context)
        for measure, alpha, normalisation in itertools.product(
            ("tsallis", "renyi"), (1 / 3, 0.5, 0.75), ("lin", "exp")
        ):
            yield Confidence(measure, alpha, normalisation, aggregate, span, context)


def frames_of(method) -> str:
    """The frame settings of a method, for the tables."""
    if method.measure == "max_prob":
        return "max_prob"
    alpha = "" if method.measure == "gibbs" else f" alpha {method.alpha:.2g}"
    where = f"span+{method.context}" if method.span else "letters"
    return f"{method.measure}{alpha} {method.normalisation} {method.aggregate} {where}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--sentences", type=int, default=120, help="held-out sentences to speak")
    parser.add_argument("--voices", type=int, default=3, help="renditions of each sentence")
    parser.add_argument("--no-beam", action="store_true", help="greedy words only")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from asr_pipeline.ctc import CtcStage, GreedyDecoder
    from asr_pipeline.ctc.beam import BeamOptions
    from asr_pipeline.ctc.confidence import METHODS

    text_file = args.model / "heldout_sentences.txt"
    sentences = [s for s in text_file.read_text(encoding="utf-8").splitlines() if s.strip()]
    sentences = sentences[: args.sentences]
    rng = random.Random(args.seed)
    stage = CtcStage(model=str(args.model), device="cpu")
    frame_s = stage.recognizer.frame_s
    spoken = []  # (sentence index, log-probabilities), each sentence in --voices voices
    for index, sentence in enumerate(sentences):
        for _ in range(args.voices):
            voice = rng.choice(TRAIN_VOICES + UNSEEN_VOICES)
            samples = espeak(sentence, voice, rng.randint(140, 190), rng.randint(30, 70))
            spoken.append((index, stage.recognizer.log_probs([(0, samples)])[0]))
    vocabulary = stage.decoder.vocabulary
    tuning = [(i, lp) for i, lp in spoken if i % 2 == 0]
    reported = [(i, lp) for i, lp in spoken if i % 2 == 1]

    def pairs_of(decoder, utterances) -> list[tuple[float, bool]]:
        return [
            pair
            for i, lp in utterances
            for pair in labelled(sentences[i], decoder.decode(lp, 0.0, frame_s))
        ]

    def greedy(method, utterances) -> list[tuple[float, bool]]:
        return pairs_of(GreedyDecoder(vocabulary, method), utterances)

    def beam(method, utterances) -> list[tuple[float, bool]]:
        options = BeamOptions(workers=1, confidence=method)
        return pairs_of(options.build(vocabulary, str(args.model), None), utterances)

    default = METHODS["entropy"]
    count = f"{len(tuning)} utterances of {len(sentences[::2])} sentences"
    ranked = sorted(
        ((auroc(greedy(method, tuning)), method) for method in frame_candidates()),
        key=lambda item: -item[0],
    )
    print(f"tuning on {count} (greedy words), frame confidence, best settings:")
    for value, method in ranked[:5]:
        print(f"  {value:.4f}  {frames_of(method)}")
    value = auroc(greedy(default, tuning))
    print(f"  {value:.4f}  {frames_of(default)} (the library's)")

    def tune_posterior(title: str, score, option: str, values: tuple[float, ...]) -> None:
        """AUROC on the tuning sentences of each value of ``option`` and frame weight."""
        print(title)
        for value, weight in [(None, 1.0), *itertools.product(values, (0.25, 0.5, 1.0))]:
            if value is None:
                method, what = dataclasses.replace(default, posterior=False), "frames alone"
            else:
                method = dataclasses.replace(default, **{option: value}, frame_weight=weight)
                what = f"{option} {value:g}, frame weight {weight:g}"
            print(f"  {auroc(score(method, tuning)):.4f}  {what}")

    tune_posterior("greedy words, spelling posterior:", greedy, "posterior_context", (0, 2, 4, 8))
    if not args.no_beam:
        tune_posterior(
            "beam-search words, N-best posterior:", beam, "beam_temperature", (1.0, 2.0, 4.0)
        )
    print(
        f"the library's: context {default.posterior_context}, temperature "
        f"{default.beam_temperature:g}, frame weight {default.frame_weight:g}"
    )

    methods = {**METHODS, "frames": dataclasses.replace(default, posterior=False)}
    figures: dict[str, float] = {}
    found = {name: greedy(method, reported) for name, method in methods.items()}
    for name in methods:
        figures[f"auroc_{name}"] = auroc(found[name])
        if not args.no_beam:
            figures[f"auroc_{name}_beam"] = auroc(beam(methods[name], reported))
    some = found["entropy"]
    wrong = sum(bad for _, bad in some)
    print(
        f"reported on {len(reported)} utterances of {len(sentences[1::2])} other sentences: "
        f"{len(some)} greedy words, {wrong} wrong ({wrong / max(1, len(some)):.1%})"
    )
    print(f"{'method':<24}{'greedy AUROC':>14}{'beam AUROC':>12}")
    names = {"frames": "entropy, frames alone"}
    for name in methods:
        beam_value = figures.get(f"auroc_{name}_beam", float("nan"))
        print(f"{names.get(name, name):<24}{figures[f'auroc_{name}']:>14.4f}{beam_value:>12.4f}")
    for threshold in (0.1, 0.3):
        low = [bad for c, bad in some if c < threshold]
        print(
            f"entropy, greedy words under {threshold}: {len(low) / len(some):.0%} of the words, "
            f"{sum(low) / max(1, len(low)):.0%} of them wrong, holding "
            f"{sum(low) / max(1, wrong):.0%} of the wrong words"
        )
    right = [c for c, bad in some if not bad]
    print(f"median confidence of right words: {np.median(right):.2f}")
    order = ("entropy", "max_prob", "entropy_beam", "max_prob_beam")
    last = {f"auroc_{k}": figures[f"auroc_{k}"] for k in order if f"auroc_{k}" in figures}
    print(" ".join(f"{k}={v:.4f}" for k, v in last.items()) + f" words={len(some)} wrong={wrong}")


if __name__ == "__main__":
    main()
