"""Time of ``asr-pipeline lm build`` on a million words of text.

The text is sampled from a bigram chain of the sentences in ``--text`` (default: the corpus the
demonstration model's text came from), so it has the many distinct 2- and 3-grams of real text
rather than one corpus repeated. The build normalises it to the demonstration model's alphabet,
counts, smooths (modified Kneser-Ney) and writes the ARPA file; KenLM then loads it.

    python benchmarks/bench_lm_build.py
    python benchmarks/bench_lm_build.py --words 3000000 --order 4

The last line is for scripts::

    words=X ngrams=X build_s=X cpu_s=X load_s=X
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from asr_pipeline.train.lm import build_language_model  # noqa: E402
from asr_pipeline.train.text import Alphabet  # noqa: E402

MODEL = REPO / "tests" / "fixtures" / "espeak-ru-tiny"
TEXT = REPO.parent / "shared" / "data" / "ru_text" / "dev.txt"


def sampled_text(source: Path, words: int, alphabet: Alphabet, seed: int = 0) -> list[str]:
    """Sentences from a bigram chain of the source's lines (normalised to the alphabet, so
    that the build keeps every word), ``words`` words in all."""
    followers: dict[str, list[str]] = defaultdict(list)
    for line in source.read_text(encoding="utf-8").splitlines():
        for run in alphabet.known_words(line):
            tokens = ["<s>", *run, "</s>"]
            for a, b in zip(tokens, tokens[1:], strict=False):
                followers[a].append(b)
    rng = random.Random(seed)
    lines, total = [], 0
    while total < words:
        word, sentence = "<s>", []
        while len(sentence) < 40:
            word = rng.choice(followers[word])
            if word == "</s>":
                break
            sentence.append(word)
        lines.append(" ".join(sentence))
        total += len(sentence)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=1_000_000)
    parser.add_argument("--order", type=int, default=3)
    parser.add_argument("--text", type=Path, default=TEXT)
    args = parser.parse_args()
    import kenlm
    from transformers import AutoTokenizer

    alphabet = Alphabet.of_tokenizer(AutoTokenizer.from_pretrained(MODEL))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(sampled_text(args.text, args.words, alphabet)) + "\n", "utf-8")
        load = os.getloadavg()
        started, cpu = time.perf_counter(), time.process_time()
        summary = build_language_model([corpus], Path(tmp) / "lm", alphabet, order=args.order)
        build_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
        started = time.perf_counter()
        kenlm.Model(str(Path(tmp) / "lm" / "lm.arpa"))
        load_s = time.perf_counter() - started
        size = (Path(tmp) / "lm" / "lm.arpa").stat().st_size / 1e6
    ngrams = sum(summary.ngrams.values())
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; cores {os.cpu_count()}")
    print(
        f"{summary.words:,} words, {summary.sentences:,} sentences, vocabulary "
        f"{summary.vocabulary:,}; n-grams {summary.ngrams}; ARPA {size:.0f} MB"
    )
    print(f"{summary.smoothing()}; discounts {summary.discounts}")
    print(
        f"build (normalise, count, smooth, write): {build_s:.1f} s wall, {cpu_s:.1f} s CPU "
        f"(one thread); KenLM load {load_s:.1f} s"
    )
    print(
        f"words={summary.words} ngrams={ngrams} build_s={build_s:.1f} cpu_s={cpu_s:.1f} "
        f"load_s={load_s:.1f}"
    )


if __name__ == "__main__":
    main()
