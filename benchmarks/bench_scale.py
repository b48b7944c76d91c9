"""Batch throughput of the local executor against Ray with 1 and 2 workers, side by side.

The batch is 40 short files (one sentence each) and 2 long ones (dozens of sentences), spoken by
``espeak-ng -v ru`` and recognised by the demonstration model ``tests/fixtures/espeak-ru-tiny``
(stages ``vad,ctc`` on CPU). Every worker runs on one thread (``stages.ctc.threads=1``, one CPU
per Ray worker), and the local executor does too, so:

- ``overhead_1_worker``: how much slower Ray with one worker is than the local executor,
  ``local throughput / Ray throughput - 1`` (goal: at most 0.15);
- ``scaling_2_workers``: Ray's throughput with 2 workers over its throughput with 1 (goal: at
  least 1.6 on a machine with 2 free cores);
- ``ray_startup_s``: seconds from the start of a Ray run to its first file's start: the local
  cluster (``ray.init``) and the pool's workers, each importing torch and loading the model. A
  long-lived cluster pays the first part once, and every run pays the second once per worker;
  it is left out of both ratios, as the local executor's model load is.

Throughput is hours of audio per hour of wall time from the first file's start to the last file
written (steady work: what a long archive sees); the table also shows it with the start-up
included, which on a batch this short (about 10 s of work per worker) weighs heavily.

    python benchmarks/bench_scale.py
    python benchmarks/bench_scale.py --short 20 --long-sentences 20   # a quicker, smaller batch
    python benchmarks/bench_scale.py --workdir /tmp/bench-scale        # keeps audio and outputs

The last line is for scripts::

    scaling_2_workers=X overhead_1_worker=X ray_startup_s=X files=N failed=N
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from asr_pipeline.cli.batch import make_writers  # noqa: E402
from asr_pipeline.config import resolve_config  # noqa: E402
from asr_pipeline.executors import (  # noqa: E402
    BatchResult,
    Executor,
    Job,
    LocalExecutor,
    by_duration,
    run_job,
)

MODEL = REPO / "tests" / "fixtures" / "espeak-ru-tiny"
SENTENCES = (MODEL / "heldout_sentences.txt").read_text(encoding="utf-8").splitlines()
CONFIG = {
    "pipeline": ["vad", "ctc"],
    "device": "cpu",
    "stages": {"ctc": {"model": str(MODEL), "threads": 1}},
}


def make_batch(folder: Path, short: int, long: int, long_sentences: int) -> list[Path]:
    """``short`` one-sentence files and ``long`` files of ``long_sentences`` sentences each."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = {f"short{n:02d}": SENTENCES[n % len(SENTENCES)] for n in range(short)}
    for n in range(long):
        first = (50 + n * long_sentences) % len(SENTENCES)
        picked = [SENTENCES[(first + k) % len(SENTENCES)] for k in range(long_sentences)]
        texts[f"long{n}"] = " ".join(picked)
    files = []
    for name, text in texts.items():
        path = folder / f"{name}.wav"
        if not path.exists():
            subprocess.run(["espeak-ng", "-v", "ru", "-w", str(path), text], check=True)
        files.append(path)
    return files


def run(executor: Executor, files: list[Path], out: Path) -> tuple[BatchResult, float]:
    """The batch's result, and the seconds before its first file started."""
    shutil.rmtree(out, ignore_errors=True)
    job = Job(make_writers("txt"), out, config=resolve_config(CONFIG))
    began = time.time()
    result = run_job(executor, job, by_duration(files), progress=False, record=True)
    first = min(o.started_at for o in result.outcomes if o.started_at is not None)
    return result, first - began


def throughput(result: BatchResult, startup_s: float = 0.0) -> float:
    """Hours of audio per hour of wall time, ``startup_s`` left out."""
    return (result.audio_s / 3600) / ((result.wall_s - startup_s) / 3600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", type=int, default=40, help="short files (one sentence)")
    parser.add_argument("--long", type=int, default=2, help="long files")
    parser.add_argument("--long-sentences", type=int, default=400, help="sentences per long file")
    parser.add_argument("--workdir", type=Path, help="keep audio and outputs here")
    args = parser.parse_args()

    from asr_pipeline.executors.ray import RayExecutor

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        files = make_batch(workdir / "audio", args.short, args.long, args.long_sentences)
        items = by_duration(files)
        audio_s = sum(item.duration for item in items)
        print(
            f"{len(files)} files, {audio_s / 60:.1f} min of audio (longest {items[0].duration:.0f}"
            f" s); cpu cores: {len(os.sched_getaffinity(0))}; load: {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        results: dict[str, tuple[BatchResult, float]] = {}
        variants: dict[str, Executor] = {
            "local": LocalExecutor(),
            "ray_1": RayExecutor(workers=1, cpus_per_worker=1),
            "ray_2": RayExecutor(workers=2, cpus_per_worker=1),
        }
        print(
            f"{'variant':8} {'wall s':>8} {'startup s':>9} {'audio h/h':>9} "
            f"{'with startup':>12} {'failed':>6}"
        )
        for name, executor in variants.items():
            result, startup = run(executor, files, workdir / f"out_{name}")
            results[name] = (result, startup)
            print(
                f"{name:8} {result.wall_s:8.1f} {startup:9.1f} "
                f"{throughput(result, startup):9.1f} {throughput(result):12.1f} "
                f"{len(result.failed):6d}",
                flush=True,
            )
        (local, startup_0), (ray_1, startup_1), (ray_2, startup_2) = results.values()
        scaling = throughput(ray_2, startup_2) / throughput(ray_1, startup_1)
        overhead = throughput(local, startup_0) / throughput(ray_1, startup_1) - 1
        print(
            "start-up included: "
            f"scaling {throughput(ray_2) / throughput(ray_1):.2f}, "
            f"overhead of Ray with 1 worker {throughput(local) / throughput(ray_1) - 1:.3f}"
        )
        failed = sum(len(result.failed) for result, _ in results.values())
        print(
            f"scaling_2_workers={scaling:.2f} overhead_1_worker={overhead:.3f} "
            f"ray_startup_s={(startup_1 + startup_2) / 2:.1f} files={len(files)} failed={failed}"
        )
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
