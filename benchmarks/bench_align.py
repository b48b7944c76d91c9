"""Forced alignment of long audio: time, memory, and how well sentences are placed.

The demonstration model's held-out sentences are spoken by ``espeak-ng`` (one voice per
sentence, 0.6 s pauses between them) and repeated until the recording is ``--minutes`` long;
the text is the same sentences, one per line, plus one sentence that is never spoken (which
must come out not found), and one spoken sentence is left out of the text (which must come out
as unaligned audio). Sentence starts are known from the synthesis, so the error of each placed
sentence's start is measured. Run with two lengths to see memory grow with the log-probabilities
alone (about 30 MB an hour), not with the audio:

    python benchmarks/bench_align.py --minutes 5
    python benchmarks/bench_align.py --minutes 30

The last line is for scripts::

    minutes=X align_s=X cpu_s=X rtf=X peak_numpy_mb=X found=N/N start_error_p95_s=X
    missing_flagged=B unaligned_found=B
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
DEFAULT_MODEL = REPO / "tests" / "fixtures" / "espeak-ru-tiny"
SAMPLE_RATE = 16_000
NEVER_SPOKEN = "этого предложения в записи нет и никто его не произносил"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--sentences", type=int, default=40, help="distinct sentences spoken")
    args = parser.parse_args()

    from bench_confidence import TRAIN_VOICES, espeak

    from asr_pipeline import Audio
    from asr_pipeline.align import align
    from asr_pipeline.ctc import CtcStage

    lines = (args.model / "heldout_sentences.txt").read_text(encoding="utf-8").splitlines()
    sentences = [s for s in lines if s.strip()][: args.sentences]
    rng = random.Random(3)
    voiced = [espeak(s, rng.choice(TRAIN_VOICES), 160, 50) for s in sentences]
    pause = np.zeros(round(0.6 * SAMPLE_RATE), dtype=np.float32)
    parts, texts, starts, size, k = [], [], [], 0, 0
    while size < args.minutes * 60 * SAMPLE_RATE:
        i = k % len(sentences)
        starts.append(size / SAMPLE_RATE)
        texts.append(sentences[i])
        parts += [voiced[i], pause]
        size += len(voiced[i]) + len(pause)
        k += 1
    unscripted = len(texts) // 2
    spoken_starts = [s for j, s in enumerate(starts) if j != unscripted]
    text_lines = [t for j, t in enumerate(texts) if j != unscripted]
    text_lines.insert(len(text_lines) // 4, NEVER_SPOKEN)
    samples = np.concatenate(parts)
    duration = len(samples) / SAMPLE_RATE

    stage = CtcStage(model=str(args.model), device="cpu")
    tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    transcript = align(Audio.from_array(samples), "\n".join(text_lines), stage)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    report = transcript.metadata.extra["alignment"]
    utterances = report["utterances"]
    found = [u for u in utterances if u["found"]]
    missing_flagged = [u["text"] for u in utterances if not u["found"]] == [NEVER_SPOKEN]
    spoken = [u for u in utterances if u["text"] != NEVER_SPOKEN]
    errors = [
        abs(u["start"] - start)
        for u, start in zip(spoken, spoken_starts, strict=True)
        if u["found"]
    ]
    gap = (starts[unscripted], starts[unscripted + 1])
    unaligned_found = any(
        a["start"] < gap[1] and a["end"] > gap[0] for a in report["unaligned_audio"]
    )
    p95 = float(np.percentile(errors, 95)) if errors else float("nan")
    print(
        f"model {args.model.name}: {duration / 60:.1f} min of audio, {len(text_lines)} lines of "
        f"text ({len(sentences)} distinct sentences); aligned in {seconds:.1f} s "
        f"(RTF {seconds / duration:.3f}, model included; {cpu:.1f} s of CPU)"
    )
    print(f"peak memory allocated by numpy during alignment: {peak_mb:.1f} MB")
    print(
        f"found {len(found)} of {len(utterances)} utterances; sentence start error: median "
        f"{np.median(errors):.3f} s, p95 {p95:.3f} s, max {max(errors):.3f} s"
    )
    print(
        f"never-spoken line flagged alone: {missing_flagged}; "
        f"unscripted speech reported: {unaligned_found}"
    )
    print(
        f"minutes={duration / 60:.1f} align_s={seconds:.1f} cpu_s={cpu:.1f} "
        f"rtf={seconds / duration:.4f} "
        f"peak_numpy_mb={peak_mb:.1f} found={len(found)}/{len(utterances)} "
        f"start_error_p95_s={p95:.3f} missing_flagged={missing_flagged} "
        f"unaligned_found={unaligned_found}"
    )


if __name__ == "__main__":
    main()
