"""How well word confidence tells wrong words from right ones: AUROC, entropy against max_prob.

The model (default: the bundled espeak-ng demonstration model ``tests/fixtures/espeak-ru-tiny``)
hears its held-out sentences (text it never saw), each spoken by ``espeak-ng`` with a voice,
speed and pitch drawn at random (half of the voices were never heard in training, so there are
enough errors to count). Each recognised word is labelled wrong or right by aligning the
recognised words with the sentence (substitutions and insertions are wrong). The AUROC of
``1 - confidence`` for "this word is wrong" is computed for each method (0.5: no better than
chance, 1: every wrong word below every right one), for greedy and beam-search words.

The sentences are split in two: the even ones choose the entropy settings (measure, alpha,
normalisation, aggregation; the best few are printed), the odd ones give the reported figures
for the library's methods (``asr_pipeline.ctc.confidence.METHODS``), so the tuning never sees
the sentences it is judged on. Beam-search words are tuned the same way: the temperature of
their N-best posterior and the weight of their frame confidence.

    python benchmarks/bench_confidence.py
    python benchmarks/bench_confidence.py --sentences 120 --no-beam

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


def candidates():
    """The entropy settings tried on the tuning sentences."""
    from asr_pipeline.ctc.confidence import Confidence

    frames = ((False, 0), (True, 0), (True, 2), (True, 4), (True, 8))
    for aggregate, (span, context) in itertools.product(("min", "mean", "prod"), frames):
        yield Confidence("gibbs", 1.0, "lin", aggregate, span, context)
        for measure, alpha, normalisation in itertools.product(
            ("tsallis", "renyi"), (1 / 3, 0.5, 0.75), ("lin", "exp")
        ):
            yield Confidence(measure, alpha, normalisation, aggregate, span, context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--sentences", type=int, default=120, help="held-out sentences to speak")
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
    log_probs = []
    for sentence in sentences:
        voice = rng.choice(TRAIN_VOICES + UNSEEN_VOICES)
        samples = espeak(sentence, voice, rng.randint(140, 190), rng.randint(30, 70))
        log_probs.append(stage.recognizer.log_probs([(0, samples)])[0])
    vocabulary = stage.decoder.vocabulary
    tuning, reported = list(range(0, len(sentences), 2)), list(range(1, len(sentences), 2))

    def greedy_pairs(method, indices) -> list[tuple[float, bool]]:
        decoder = GreedyDecoder(vocabulary, method)
        return [
            pair
            for i in indices
            for pair in labelled(sentences[i], decoder.decode(log_probs[i], 0.0, frame_s))
        ]

    ranked = sorted(
        ((auroc(greedy_pairs(method, tuning)), method) for method in candidates()),
        key=lambda item: -item[0],
    )
    print(f"tuning on {len(tuning)} sentences (greedy words), best settings:")
    for value, method in ranked[:5]:
        print(f"  {value:.4f}  {method}")
    default = METHODS["entropy"]
    print(f"  {auroc(greedy_pairs(default, tuning)):.4f}  the library's entropy method: {default}")

    figures: dict[str, float] = {}
    pairs = {name: greedy_pairs(method, reported) for name, method in METHODS.items()}
    for name, found in pairs.items():
        figures[f"auroc_{name}"] = auroc(found)
    if not args.no_beam:

        def beam_pairs(method, indices) -> list[tuple[float, bool]]:
            decoder = BeamOptions(workers=1, confidence=method).build(
                vocabulary, str(args.model), None
            )
            return [
                pair
                for i in indices
                for pair in labelled(sentences[i], decoder.decode(log_probs[i], 0.0, frame_s))
            ]

        print(f"tuning on {len(tuning)} sentences (beam-search words), N-best posterior:")
        for temperature, weight in itertools.product((None, 1.0, 2.0, 4.0), (0.25, 0.5, 1.0)):
            if temperature is None and weight != 1.0:
                continue
            method = dataclasses.replace(
                default, beam_temperature=temperature, beam_frame_weight=weight
            )
            label = "frames alone" if temperature is None else f"temperature {temperature:g}"
            value = auroc(beam_pairs(method, tuning))
            print(f"  {value:.4f}  {label}, frame weight {weight:g}")
        for name, method in METHODS.items():
            found = beam_pairs(method, reported)
            figures[f"auroc_{name}_beam"] = auroc(found)
    some = pairs["entropy"]
    wrong = sum(bad for _, bad in some)
    print(
        f"reported on {len(reported)} other sentences: {len(some)} greedy words, "
        f"{wrong} wrong ({wrong / max(1, len(some)):.1%})"
    )
    print(f"{'method':<10}{'greedy AUROC':>14}{'beam AUROC':>12}")
    for name in METHODS:
        beam = figures.get(f"auroc_{name}_beam", float("nan"))
        print(f"{name:<10}{figures[f'auroc_{name}']:>14.4f}{beam:>12.4f}")
    last = {k: v for k, v in figures.items() if k.startswith("auroc")}
    print(" ".join(f"{k}={v:.4f}" for k, v in last.items()) + f" words={len(some)} wrong={wrong}")


if __name__ == "__main__":
    main()
