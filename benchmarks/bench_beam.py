"""Greedy against beam-search decoding on the same model and the same log-probabilities.

The model is a folder with a ``language_model/`` (default: the bundled espeak-ng demonstration
model ``tests/fixtures/espeak-ru-tiny``, whose 3-gram LM is an ARPA file). The audio is its
held-out sentences (text the model and the LM never saw) spoken by ``espeak-ng -v ru`` with
pauses between them. The ``vad`` stage finds the segments once; then:

- the acoustic model runs once and its log-probabilities are kept;
- each decoder decodes all segments from those log-probabilities (decode time alone);
- RTF = (acoustic seconds + decode seconds) / audio seconds, the ``ctc`` stage's cost.

Variants: ``greedy``; ``beam-1`` (beam search in this process); ``beam-N`` (the fork pool, N
processes, the default on Linux); with ``--hotwords K``, ``beam-hot`` (beam-N with K hotwords:
rare words of the held-out text, which the LM has mostly never seen). WER and CER are against
the sentences as written. The LM's load time and the resident memory it adds are printed too.

    python benchmarks/bench_beam.py --sentences 40
    python benchmarks/bench_beam.py --model /models/wav2vec2-ru --workers 4

The last line is for scripts::

    rtf_greedy=X rtf_beam=X rtf_beam_1=X decode_s_greedy=X decode_s_beam=X wer_greedy=X ...
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_MODEL = REPO / "tests" / "fixtures" / "espeak-ru-tiny"
SAMPLE_RATE = 16_000


def espeak(text: str) -> np.ndarray:
    """16 kHz float32 speech of ``text``."""
    import soundfile as sf

    from asr_pipeline.audio import resample

    wav = subprocess.run(
        ["espeak-ng", "-v", "ru", "-s", "160", "--stdout", text], check=True, capture_output=True
    ).stdout
    data, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return resample(data, rate)


def make_audio(sentences: list[str], pause_s: float = 0.8) -> np.ndarray:
    rng = np.random.default_rng(0)
    parts = []
    for sentence in sentences:
        parts += [espeak(sentence), rng.normal(0, 1e-4, round(pause_s * SAMPLE_RATE))]
    return np.concatenate(parts).astype(np.float32)


class Recording:
    """A decoder that keeps what it is given and decodes greedily."""

    def __init__(self, decoder) -> None:
        self.decoder = decoder
        self.items: list[tuple[np.ndarray, float]] = []

    def decode(self, log_probs, start, frame_s):
        self.items.append((log_probs, start))
        return self.decoder.decode(log_probs, start, frame_s)


def rss_mb() -> float:
    """Resident memory of this process now (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rare_words(text: str, count: int) -> list[str]:
    """The ``count`` longest distinct words of ``text`` that occur once (names, terms)."""
    words = text.split()
    once = [w for w in dict.fromkeys(words) if words.count(w) == 1]
    return sorted(once, key=len, reverse=True)[:count]


def timed_decode(decoder, items, frame_s) -> tuple[float, list[str]]:
    started = time.perf_counter()
    if hasattr(decoder, "decode_batch"):
        words = decoder.decode_batch(items, frame_s)
    else:
        words = [decoder.decode(lp, start, frame_s) for lp, start in items]
    seconds = time.perf_counter() - started
    return seconds, [w.text for segment in words for w in segment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--sentences", type=int, default=30, help="held-out sentences to speak")
    parser.add_argument("--workers", type=int, default=None, help="beam pool size (default: auto)")
    parser.add_argument("--beam-width", type=int, default=100)
    parser.add_argument("--hotwords", type=int, default=0, help="add a run with this many")
    args = parser.parse_args()

    import jiwer

    from asr_pipeline import Audio, Pipeline
    from asr_pipeline.ctc import CtcStage
    from asr_pipeline.ctc.beam import BeamOptions, default_workers

    text_file = args.model / "heldout_sentences.txt"
    sentences = text_file.read_text(encoding="utf-8").split("\n")[: args.sentences]
    sentences = [s for s in sentences if s.strip()]
    samples = make_audio(sentences)
    duration = len(samples) / SAMPLE_RATE
    reference = " ".join(sentences)

    vad = Pipeline.from_config({"pipeline": ["vad"], "device": "cpu"})
    transcript = vad(Audio.from_array(samples, SAMPLE_RATE))
    stage = CtcStage(model=str(args.model), device="cpu")
    recording = Recording(stage.decoder)
    stage.recognizer.decoder = recording
    started = time.perf_counter()
    stage(transcript)
    acoustic_and_greedy = time.perf_counter() - started
    items = sorted(recording.items, key=lambda item: item[1])  # in time order, for the WER
    frame_s = stage.recognizer.frame_s

    workers = args.workers or default_workers()
    vocabulary, model = stage.decoder.vocabulary, str(args.model)
    rss_before, started = rss_mb(), time.perf_counter()
    decoders = {
        "greedy": stage.decoder,
        "beam-1": BeamOptions(workers=1, beam_width=args.beam_width).build(vocabulary, model, None),
    }
    lm_load_s, lm_rss_mb = time.perf_counter() - started, rss_mb() - rss_before
    if workers > 1:
        decoders[f"beam-{workers}"] = BeamOptions(
            workers=workers, beam_width=args.beam_width
        ).build(vocabulary, model, None)
    if args.hotwords:
        hotwords = rare_words(reference, args.hotwords)
        decoders["beam-hot"] = BeamOptions(
            workers=workers, beam_width=args.beam_width, hotwords=tuple(hotwords)
        ).build(vocabulary, model, None)
    results = {}
    for name, decoder in decoders.items():
        if name != "greedy" and name != "beam-1":
            timed_decode(decoder, items[:2], frame_s)  # start the pool outside the timing
        seconds, words = timed_decode(decoder, items, frame_s)
        results[name] = (seconds, " ".join(words))
    acoustic = acoustic_and_greedy - results["greedy"][0]

    print(
        f"model {args.model.name}: {len(sentences)} sentences, {duration:.1f} s of audio, "
        f"{len(items)} segments; acoustic model {acoustic:.2f} s (RTF {acoustic / duration:.3f}); "
        f"{workers} beam workers; beam width {args.beam_width}"
    )
    print(f"language model: loaded in {lm_load_s:.2f} s, resident memory +{lm_rss_mb:.0f} MB")
    print(f"{'decoder':<9}{'decode s':>10}{'RTF':>8}{'WER':>8}{'CER':>8}")
    figures = {}
    for name, (seconds, hypothesis) in results.items():
        rtf = (acoustic + seconds) / duration
        wer = jiwer.wer(reference, hypothesis or "-")
        cer = jiwer.cer(reference, hypothesis or "-")
        print(f"{name:<9}{seconds:>10.2f}{rtf:>8.3f}{wer:>8.1%}{cer:>8.1%}")
        key = "beam" if name == f"beam-{workers}" else name.replace("-", "_")
        figures |= {f"rtf_{key}": rtf, f"decode_s_{key}": seconds, f"wer_{key}": wer}
    for decoder in decoders.values():
        getattr(decoder, "close", lambda: None)()
    print(" ".join(f"{k}={v:.4f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
