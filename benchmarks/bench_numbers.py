"""Speed and accuracy of the numbers stage, beside NeMo's Russian inverse normalizer.

Prints, for ``postprocess.normalize_numbers``:

- start-up: a fresh interpreter importing it and normalizing one sentence (lexicon built);
- sentences per second over the dev set (``tests/data/itn_dev.tsv``) and its exact rate;
- the ``digits`` style over NeMo's case files (``tests/data/itn_ru_nemo``): exact and value
  matches per file.

The same figures for ``nemo_text_processing`` when it is importable (it is never a dependency:
its grammars take minutes to build; pass ``--nemo-cache DIR`` to reuse built ones).

    python benchmarks/bench_numbers.py
    python benchmarks/bench_numbers.py --repeat 20 --nemo-cache /tmp/nemo_cache
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEV_SET = REPO / "tests" / "data" / "itn_dev.tsv"
SUITE = REPO / "tests" / "data" / "itn_ru_nemo"

STARTUP = (
    "import time; t = time.perf_counter(); from postprocess import normalize_numbers; "
    "normalize_numbers('двадцать пятого мая'); print(time.perf_counter() - t)"
)


def dev_cases() -> list[tuple[str, str]]:
    cases = []
    for line in DEV_SET.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            spoken, written = line.split("\t")
            cases.append((spoken, written))
    return cases


def startup_seconds(runs: int = 3) -> float:
    """Best of a few fresh interpreters: import plus the first sentence (lexicon built)."""
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", STARTUP], cwd=REPO, capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return min(times)


def throughput(normalize: Callable[[str], str], texts: list[str], repeat: int) -> float:
    """Sentences per second, best of ``repeat`` passes."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for text in texts:
            normalize(text)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def suite_table(normalize: Callable[[str], str]) -> None:
    from postprocess.numbers.evaluate import read_cases, score_cases

    totals = [0, 0, 0]
    print(f"  {'file':<16} {'cases':>5} {'exact':>7} {'values':>7}")
    for path in sorted(SUITE.glob("test_cases_*.txt")):
        score = score_cases(read_cases(path), normalize)
        name = path.stem.removeprefix("test_cases_")
        print(f"  {name:<16} {score.total:>5} {score.exact:>7} {score.values:>7}")
        totals = [totals[0] + score.total, totals[1] + score.exact, totals[2] + score.values]
    total, exact, values = totals
    print(f"  {'all':<16} {total:>5} {exact:>7} {values:>7}"
          f"   ({exact / total:.1%} exact, {values / total:.1%} values)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="passes over the dev set")
    parser.add_argument("--nemo-cache", help="cache folder for NeMo's built grammars")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    from postprocess import normalize_numbers

    cases = dev_cases()
    texts = [spoken for spoken, _ in cases]
    exact = sum(normalize_numbers(s) == w for s, w in cases)
    print("postprocess.normalize_numbers")
    print(f"  start-up (fresh interpreter, import + first sentence): {startup_seconds():.3f} s")
    speed = throughput(normalize_numbers, texts, args.repeat)
    print(f"  dev set: {len(cases)} sentences, {exact} exact ({exact / len(cases):.1%})")
    print(f"  throughput (editorial): {speed:,.0f} sentences/s")
    digits = throughput(lambda t: normalize_numbers(t, style="digits"), texts, args.repeat)
    print(f"  throughput (digits): {digits:,.0f} sentences/s")
    print("  NeMo suite, style digits:")
    suite_table(lambda t: normalize_numbers(t, style="digits"))

    print("nemo_text_processing")
    if importlib.util.find_spec("nemo_text_processing") is None:
        print("  not installed: skipped (pip install nemo_text_processing to compare)")
        return
    from nemo_text_processing.inverse_text_normalization.inverse_normalize import (
        InverseNormalizer,
    )

    start = time.perf_counter()
    nemo = InverseNormalizer(lang="ru", cache_dir=args.nemo_cache)
    print(f"  start-up (grammars built or loaded): {time.perf_counter() - start:.1f} s")

    def run(text: str) -> str:
        return nemo.inverse_normalize(text, verbose=False)

    nemo_speed = throughput(run, texts, 1)
    ratio = speed / nemo_speed
    print(f"  throughput: {nemo_speed:,.1f} sentences/s (normalize_numbers is {ratio:.0f}x)")
    print(f"  dev set: {sum(run(s) == w for s, w in cases)} exact of {len(cases)}")
    print("  NeMo suite:")
    suite_table(run)


if __name__ == "__main__":
    main()
