"""Diarization error rate of the ``diarize`` stage on synthetic espeak-ng dialogues.

Dialogues come from ``benchmarks/dialogues.py``: 10 between two voices and 5 between three
(3-6 minutes each by default), with their reference RTTM. Each runs through ``vad`` and ``ctc``
(the espeak-ng demonstration model, for word timings) once; then ``diarize`` runs twice on the
same transcript: with ``num_speakers`` given (``known``) and with the count found (``auto``).
The auto pass reuses the known pass's embeddings (same windows), so it times the clustering and
splitting only; RTF is the known pass's (embeddings included) over the audio's duration.

DER is pyannote.metrics' with a 0.25 s collar on each side of reference boundaries, overlap
scored, summed over all files. Goals: DER <= 10 % known, <= 15 % auto with the right count on
>= 80 % of files, RTF <= 0.05. These voices are synthetic: the figures say whether the machinery
works, not what to expect from real recordings.

    python benchmarks/bench_diarize.py
    python benchmarks/bench_diarize.py --two 2 --three 1 --min-s 60 --max-s 90   # quick look

The last line is for scripts::

    der_known=X der_auto=X count_ok=X rtf=X
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_MODEL = REPO / "tests" / "fixtures" / "espeak-ru-tiny"

from benchmarks.dialogues import dialogue, write  # noqa: E402


class CachedEmbedder:
    """Resemblyzer, remembering each window's embedding so a second pass costs nothing."""

    shared: dict[bytes, np.ndarray] = {}
    model = None

    def __init__(self, *, device: str | None = None) -> None:
        if CachedEmbedder.model is None:
            from asr_pipeline.diarize.embeddings import ResemblyzerEmbedder

            CachedEmbedder.model = ResemblyzerEmbedder(device=device)

    def embed(self, windows: Sequence[np.ndarray], /) -> np.ndarray:
        keys = [hashlib.sha1(w.tobytes()).digest() for w in windows]
        missing = [i for i, k in enumerate(keys) if k not in self.shared]
        if missing:
            assert CachedEmbedder.model is not None
            found = CachedEmbedder.model.embed([windows[i] for i in missing])
            self.shared.update({keys[i]: row for i, row in zip(missing, found, strict=True)})
        return np.stack([self.shared[k] for k in keys])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--two", type=int, default=10, help="two-speaker dialogues")
    parser.add_argument("--three", type=int, default=5, help="three-speaker dialogues")
    parser.add_argument("--min-s", type=float, default=180.0, help="shortest dialogue, seconds")
    parser.add_argument("--max-s", type=float, default=360.0, help="longest dialogue, seconds")
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="the ctc stage's model")
    parser.add_argument("--folder", type=Path, help="keep the dialogues here (default: temp)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from asr_pipeline import Pipeline
    from asr_pipeline.diarize import DiarizeStage
    from asr_pipeline.evaluate import read_rttm, speaker_counts
    from asr_pipeline.evaluate.speakers import SpeakerCounts, speaker_turns
    from asr_pipeline.registry import speaker_embeddings

    speaker_embeddings.register("resemblyzer-cached", CachedEmbedder)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench_diarize_"))
    rng = random.Random(args.seed)
    plan = [2] * args.two + [3] * args.three
    front = Pipeline.from_config(
        {"pipeline": ["vad", "ctc"], "stages": {"ctc": {"model": args.model}}}
    )
    known_total, auto_total = SpeakerCounts(), SpeakerCounts()
    count_ok, audio_s, diarize_s, cpu_s = 0, 0.0, 0.0, 0.0
    print(f"{'file':<10} {'min':>5} {'spk':>3} {'DER known':>9} {'DER auto':>9} {'found':>5}")
    for index, speakers in enumerate(plan):
        name = f"d{index:02d}_{speakers}spk"
        seconds = rng.uniform(args.min_s, args.max_s)
        wav, rttm = folder / f"{name}.wav", folder / f"{name}.rttm"
        if not (wav.is_file() and rttm.is_file()):
            write(dialogue(speakers, seconds, seed=args.seed * 1000 + index), folder, name)
        reference = read_rttm(rttm)
        transcript = front(wav)
        started, cpu = time.perf_counter(), time.process_time()
        known = DiarizeStage(backend="resemblyzer-cached", num_speakers=speakers)(transcript)
        diarize_s += time.perf_counter() - started
        cpu_s += time.process_time() - cpu
        auto = DiarizeStage(backend="resemblyzer-cached")(transcript)
        CachedEmbedder.shared.clear()
        audio_s += transcript.duration or 0.0
        der_known = speaker_counts(reference, speaker_turns(known))
        der_auto = speaker_counts(reference, speaker_turns(auto))
        found = len({s.speaker for s in auto.segments})
        count_ok += found == speakers
        known_total, auto_total = known_total + der_known, auto_total + der_auto
        print(
            f"{name:<10} {(transcript.duration or 0) / 60:5.1f} {speakers:3d} "
            f"{der_known.der * 100:8.1f}% {der_auto.der * 100:8.1f}% {found:5d}",
            flush=True,
        )
    share = count_ok / len(plan) if plan else 0.0
    rtf = diarize_s / audio_s if audio_s else 0.0
    load = os.getloadavg()[0]
    print(
        f"audio {audio_s / 60:.1f} min; diarize (known count, embeddings included) "
        f"{diarize_s:.1f} s ({cpu_s:.1f} s of CPU time over all threads, "
        f"{cpu_s / audio_s if audio_s else 0:.3f} per audio second); load average {load:.1f}; "
        f"dialogues in {folder}"
    )
    print(
        f"goals: DER known {known_total.der * 100:.1f} % (<= 10), auto "
        f"{auto_total.der * 100:.1f} % (<= 15), right count {share * 100:.0f} % (>= 80), "
        f"RTF {rtf:.3f} (<= 0.05)"
    )
    print(
        f"der_known={known_total.der:.4f} der_auto={auto_total.der:.4f} "
        f"count_ok={share:.2f} rtf={rtf:.4f}"
    )


if __name__ == "__main__":
    main()
