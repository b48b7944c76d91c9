"""Casing restoration on real Russian text: word-level F1 of "the first letter is a capital".

Two settings, each scored over every word that has a letter:

- ``punctuated``: each chunk of 5 sentences is lowercased with its punctuation kept;
- ``bare``: punctuation removed, one sentence per line (each line its own transcript);
- ``noisy``: the bare lines with recognition-like errors injected (letters swapped for letters
  a recogniser confuses, letters dropped, two words run together; about 13 % of characters,
  seeded), scored against the word each noisy word came from: capitals on misspelt words are
  the false capitals recognition output suffers from. The words go in as a recogniser's do,
  with a confidence score, through the library.

The full stage runs through ``asr-pipeline postprocess FILE --stage casing`` (one text per line)
when that command exists, otherwise through the library (``Pipeline().add_stage("casing")``).
The reduced settings (sentence starts alone; pymorphy3 tags without the shipped lists) always
run through the library, for comparison.

    python benchmarks/bench_casing.py                  # ../shared/data/ru_text/dev.txt
    python benchmarks/bench_casing.py held_out.txt --via library --errors 30
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from asr_pipeline import Pipeline, Transcript

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TEXT = REPO / ".." / "shared" / "data" / "ru_text" / "dev.txt"
CHUNK = 5
BASELINES = {"sentence starts alone": 0.576, "sentence starts + pymorphy3 name tags": 0.797}
"""F1 measured on dev.txt before this stage existed (punctuated setting)."""

_LETTER = re.compile(r"[^\W\d_]")
_PUNCT_ONLY = re.compile(r"^[^\w]+$")
_EDGE_PUNCT = re.compile(r"^[^\w]+|[^\w]+$")

Restorer = Callable[[list[str]], list[str]]


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    words: int = 0

    def add(self, reference: str, hypothesis: str) -> None:
        ref, hyp = _first_letter(reference), _first_letter(hypothesis)
        if ref is None:
            return
        self.words += 1
        truth, guess = ref.isupper(), bool(hyp) and hyp.isupper()
        self.tp += truth and guess
        self.fp += guess and not truth
        self.fn += truth and not guess

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self) -> str:
        p, r = self.precision, self.recall
        return f"F1 {self.f1:.3f}  P {p:.3f}  R {r:.3f}  ({self.words} words)"


def _first_letter(token: str) -> str | None:
    match = _LETTER.search(token)
    return match.group(0) if match else None


def punctuated_cases(lines: Sequence[str]) -> list[str]:
    """Chunks of 5 sentences as written (the references)."""
    return [" ".join(lines[i : i + CHUNK]) for i in range(0, len(lines), CHUNK)]


def bare_cases(lines: Sequence[str]) -> list[str]:
    """One sentence per line without punctuation (the references, casing kept)."""
    cases = []
    for line in lines:
        words = [_EDGE_PUNCT.sub("", w) for w in line.split() if not _PUNCT_ONLY.match(w)]
        words = [w for w in words if w]
        if words:
            cases.append(" ".join(words))
    return cases


CONFUSIONS = {
    **dict.fromkeys("аоя", "аоя"),
    **dict.fromkeys("еиэяы", "еиэяы"),
    **dict.fromkeys("уюо", "уюо"),
    **dict.fromkeys("бп", "бп"),
    **dict.fromkeys("вф", "вф"),
    **dict.fromkeys("гкх", "гкх"),
    **dict.fromkeys("дт", "дт"),
    **dict.fromkeys("жшщ", "жшщ"),
    **dict.fromkeys("зсц", "зсц"),
    **dict.fromkeys("лрн", "лрн"),
    "ё": "ёео",
    "ь": "ьъ",
}
"""Letters a recogniser confuses (vowels in unstressed syllables, voiced and voiceless pairs)."""


def noisy_cases(
    references: Sequence[str], rate: float = 0.12, seed: int = 13
) -> tuple[list[str], list[list[int]], float]:
    """Bare references lowercased with about ``rate`` of their characters in error.

    Returns the noisy lines, for each noisy word the index of the reference word it starts with,
    and the character error rate made (edits over characters, spaces included). Substitutions,
    deletions and joined words come in the proportions 5 : 3 : 1 or so.
    """
    rng = random.Random(seed)
    lines, origins, edits, chars = [], [], 0, 0
    for reference in references:
        words = reference.lower().split()
        chars += len(" ".join(words))
        noisy: list[str] = []
        origin: list[int] = []
        for k, word in enumerate(words):
            letters = []
            for letter in word:
                draw = rng.random()
                if letter.isalpha() and draw < rate * 0.75:
                    options = CONFUSIONS.get(letter, "абвгдеиклмнопрстуя")
                    letters.append(rng.choice([c for c in options if c != letter] or [letter]))
                    edits += 1
                elif letter.isalpha() and draw < rate * 1.25 and len(word) > 1:
                    edits += 1  # dropped
                else:
                    letters.append(letter)
            text = "".join(letters) or word
            if noisy and rng.random() < rate * 0.3 and noisy[-1].isalpha():
                noisy[-1] += text  # run together with the word before
                edits += 1
            else:
                noisy.append(text)
                origin.append(k)
        lines.append(" ".join(noisy))
        origins.append(origin)
    return lines, origins, edits / max(1, chars)


def evaluate_noisy(
    restore: Restorer, references: Sequence[str], noisy: Sequence[str], origins: list[list[int]]
) -> Score:
    """Score each noisy word's first letter against the reference word it starts with."""
    score = Score()
    for reference, hypothesis, origin in zip(
        references, restore(list(noisy)), origins, strict=True
    ):
        ref_words, hyp_words = reference.split(), hypothesis.split()
        if len(hyp_words) != len(origin):
            raise SystemExit(f"word count changed: {hypothesis!r}")
        for k, hyp in zip(origin, hyp_words, strict=True):
            score.add(ref_words[k], hyp)
    return score


def library_restorer(*, recognised: bool = False, **options: object) -> Restorer:
    """Restore through the library; ``recognised`` gives every word a confidence score, as
    the ctc stage does."""
    pipeline = Pipeline().add_stage("casing", config=options)

    def transcript(text: str) -> Transcript:
        plain = Transcript.from_text(text)
        if not recognised:
            return plain
        return plain.map_segments(
            lambda s: replace(s, words=tuple(replace(w, score=0.9) for w in s.words))
        )

    def restore(texts: list[str]) -> list[str]:
        return [t.text for t in pipeline.pipe(transcript(x) for x in texts)]

    return restore


def cli_restorer() -> Restorer | None:
    """Restore through ``asr-pipeline postprocess --stage casing``; None if the CLI lacks it."""
    exe = shutil.which("asr-pipeline")
    if exe is None:
        return None
    probe = subprocess.run([exe, "postprocess", "--help"], capture_output=True, text=True)
    if probe.returncode != 0 or "--stage" not in probe.stdout:
        return None

    def restore(texts: list[str]) -> list[str]:
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "lowercase.txt"
            source.write_text("\n".join(texts) + "\n", encoding="utf-8")
            command = [exe, "postprocess", str(source), "--stage", "casing"]
            done = subprocess.run(command, check=True, capture_output=True, text=True)
        return done.stdout.splitlines()

    return restore


def evaluate(restore: Restorer, references: Sequence[str], errors: Counter | None = None) -> Score:
    score = Score()
    hypotheses = restore([r.lower() for r in references])
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        ref_words, hyp_words = reference.split(), hypothesis.split()
        if len(ref_words) != len(hyp_words):
            raise SystemExit(f"word count changed: {reference!r} -> {hypothesis!r}")
        for ref, hyp in zip(ref_words, hyp_words, strict=True):
            score.add(ref, hyp)
            if errors is not None and _first_letter(ref) and ref[:1] != hyp[:1]:
                kind = "missed" if (_first_letter(ref) or "").isupper() else "extra"
                errors[f"{kind} {_EDGE_PUNCT.sub('', ref)}"] += 1
    return score


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "text",
        nargs="?",
        type=Path,
        default=DEFAULT_TEXT,
        help="one sentence per line, cased and punctuated (default: dev.txt)",
    )
    parser.add_argument(
        "--via",
        choices=("auto", "cli", "library"),
        default="auto",
        help="how the full stage runs (auto: the CLI when it has postprocess)",
    )
    parser.add_argument("--errors", type=int, default=0, help="print the N most common errors")
    args = parser.parse_args(argv)

    lines = [line.strip() for line in args.text.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]  # "#": a note
    cli = cli_restorer() if args.via != "library" else None
    if args.via == "cli" and cli is None:
        raise SystemExit("asr-pipeline has no 'postprocess --stage' command here")
    full, via = (cli, "cli") if cli is not None else (library_restorer(), "library")
    print(f"{args.text}: {len(lines)} sentences; full stage via {via}")

    settings = {
        "punctuated (5-sentence chunks)": punctuated_cases(lines),
        "bare (no punctuation, one sentence per line)": bare_cases(lines),
    }
    errors: Counter = Counter()
    clean: dict[str, Score] = {}
    for title, references in settings.items():
        print(f"\n{title}")
        for name, restore in (
            ("sentence starts alone", library_restorer(names=False)),
            ("pymorphy3 tags, no shipped lists", library_restorer(lexicon=False)),
            ("unknown_words: false", library_restorer(unknown_words=False)),
        ):
            print(f"  {name:<36} {evaluate(restore, references).line()}")
        start = time.perf_counter()
        score = evaluate(full, references, errors if title.startswith("punct") else None)
        clean[title.split()[0]] = score
        seconds = time.perf_counter() - start
        words = sum(len(r.split()) for r in references)
        label = f"casing stage ({via})"
        print(f"  {label:<36} {score.line()}  {words / seconds:,.0f} words/s")
    references = settings["bare (no punctuation, one sentence per line)"]
    noisy, origins, cer = noisy_cases(references)
    print(f"\nnoisy (bare, {cer:.1%} of characters in error, seeded)")
    for name, restore in (
        ("sentence starts alone", library_restorer(recognised=True, names=False)),
        ("unknown_words: true", library_restorer(recognised=True, unknown_words=True)),
    ):
        print(f"  {name:<36} {evaluate_noisy(restore, references, noisy, origins).line()}")
    noisy_score = evaluate_noisy(library_restorer(recognised=True), references, noisy, origins)
    print(f"  {'casing stage (library)':<36} {noisy_score.line()}")
    print(
        "\nbaselines measured before (punctuated): "
        + "; ".join(f"{k} {v:.3f}" for k, v in BASELINES.items())
    )
    if args.errors:
        print(f"\nmost common errors (punctuated, of {sum(errors.values())}):")
        for item, count in errors.most_common(args.errors):
            print(f"  {count:4d}  {item}")
    f1 = ", ".join(f"{name} {score.f1:.3f}" for name, score in clean.items())
    print(
        f"\nnoisy-text precision of capitals {noisy_score.precision:.3f} (goal >= 0.90); "
        f"clean-text F1 {f1} (goal >= 0.86)"
    )


if __name__ == "__main__":
    sys.exit(main())
