"""Word n-gram language models for beam search: interpolated Kneser-Ney, written as ARPA.

>>> from asr_pipeline.train.lm import build_language_model        # doctest: +SKIP
>>> build_language_model(["corpus.txt"], "my-lm", alphabet)        # doctest: +SKIP

The folder holds ``lm.arpa``, ``unigrams.txt`` and ``attrs.json``, the ``language_model/``
layout the ``ctc`` stage reads (``stages.ctc.lm=my-lm``). Modified Kneser-Ney (Chen & Goodman:
three discounts per order, for counts 1, 2 and 3+) is used for every order whose counts of counts
give valid discounts; an order with too few n-grams for that (a small corpus: some of
n1..n4 are zero) falls back to one discount ``n1 / (n1 + 2 n2)``. The summary says which.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AsrPipelineError
from ..io import atomic_write
from .text import Alphabet

if TYPE_CHECKING:
    import numpy as np

    from ..ctc.decode import CtcVocabulary

__all__ = [
    "ALPHAS",
    "BETAS",
    "LmSummary",
    "build_language_model",
    "corpus_sentences",
    "kneser_ney_arpa",
    "set_weights",
    "tune_weights",
    "write_arpa",
    "write_language_model",
]

ALPHAS = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
BETAS = (-1.0, 0.0, 0.5, 1.0, 2.0)
"""The alpha (LM weight) and beta (word bonus) grid of ``--tune``."""
ARPA_FILE = "lm.arpa"


@dataclass
class LmSummary:
    """What went into a language model and how it was smoothed."""

    sentences: int = 0
    words: int = 0
    vocabulary: int = 0
    ngrams: dict[int, int] = field(default_factory=dict)
    discounts: dict[int, list[float]] = field(default_factory=dict)
    """Per order: three discounts (modified KN) or one (the fallback)."""
    seconds: float = 0.0
    alpha: float | None = None
    beta: float | None = None
    tuning: dict[str, Any] = field(default_factory=dict)

    def smoothing(self) -> str:
        """``modified Kneser-Ney (orders 1-3)`` or which orders fell back to one discount."""
        single = [n for n, d in self.discounts.items() if len(d) == 1]
        if not single:
            return (
                f"modified Kneser-Ney (three discounts per order, orders 1-{len(self.discounts)})"
            )
        orders = ", ".join(map(str, single))
        return f"interpolated Kneser-Ney: modified, but one discount for order(s) {orders}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "sentences": self.sentences,
            "words": self.words,
            "vocabulary": self.vocabulary,
            "ngrams": self.ngrams,
            "discounts": self.discounts,
            "smoothing": self.smoothing(),
            "build_s": round(self.seconds, 2),
            "alpha": self.alpha,
            "beta": self.beta,
            "tuning": self.tuning,
        }


# ---------------------------------------------------------------- corpus


def corpus_sentences(paths: Iterable[str | Path], alphabet: Alphabet) -> Iterator[str]:
    """Every line of the corpus files normalised to the model's alphabet; a word it cannot write
    (digits, Latin) splits its line in two, as a sentence boundary."""
    for path in paths:
        path = Path(path)
        try:
            handle = path.open(encoding="utf-8-sig")
        except OSError as e:
            raise AsrPipelineError(f"{path}: cannot read the corpus ({e.strerror})") from None
        with handle:
            try:
                for line in handle:
                    for run in alphabet.known_words(line):
                        yield " ".join(run)
            except UnicodeDecodeError as e:
                raise AsrPipelineError(f"{path}: not UTF-8 text ({e.reason})") from None


# ---------------------------------------------------------------- Kneser-Ney


def _counts(sentences: Iterable[str], order: int) -> tuple[list[Counter], int, int]:
    counts: list[Counter] = [Counter() for _ in range(order + 1)]
    lines = words = 0
    for sentence in sentences:
        tokens = ["<s>", *sentence.split(), "</s>"]
        lines += 1
        words += len(tokens) - 2
        for n in range(1, order + 1):
            grams = zip(*(tokens[i:] for i in range(n)), strict=False)
            counts[n].update(grams)
        counts[1].pop(("<s>",), None)
    return counts, lines, words


def _discounts(counts: Counter) -> list[float]:
    """Chen & Goodman's three discounts from counts of counts, or one when they are invalid."""
    of = Counter(c for c in counts.values() if c <= 4)
    n1, n2, n3, n4 = (of[i] for i in range(1, 5))
    y = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
    if n1 and n2 and n3 and n4:
        modified = [1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3]
        if all(0 < d < i for i, d in enumerate(modified, 1)):
            return modified
    return [y if 0 < y < 1 else 0.5]


def _discount(discounts: list[float], count: int) -> float:
    return discounts[min(count, len(discounts)) - 1]


def _kneser_ney(sentences: Iterable[str], order: int) -> tuple[list[dict], list[dict], LmSummary]:
    """Interpolated probabilities and backoff weights of every stored n-gram.

    Each stored probability is the interpolated estimate and each backoff weight the mass the
    history leaves to the lower order, so an unseen n-gram scores ``backoff(h) * p(w | h')`` and
    every conditional distribution sums to one.
    """
    counts, lines, words = _counts(sentences, order)
    if not lines:
        raise AsrPipelineError("the corpus has no sentence in the model's alphabet")
    # Lower orders use continuation counts, except n-grams that start a sentence.
    kn: list[Counter] = [Counter() for _ in range(order + 1)]
    kn[order] = counts[order]
    for n in range(1, order):
        kn[n] = Counter({g: c for g, c in counts[n].items() if g[0] == "<s>"})
        for gram in counts[n + 1]:
            kn[n][gram[1:]] += 1
    discounts = {n: _discounts(kn[n]) for n in range(1, order + 1)}
    vocab = sorted({g[0] for g in kn[1]} | {"<unk>"})
    probs: list[dict] = [{} for _ in range(order + 1)]
    backoffs: list[dict] = [{} for _ in range(order + 1)]
    # Unigrams: discounted continuation counts interpolated with a uniform distribution.
    total = sum(kn[1].values())
    d1 = discounts[1]
    left = sum(_discount(d1, c) for c in kn[1].values()) / total
    for word in vocab:
        count = kn[1].get((word,), 0)
        kept = count - _discount(d1, count) if count else 0.0
        probs[1][(word,)] = kept / total + left / len(vocab)
    for n in range(2, order + 1):
        history_total: Counter = Counter()
        history_left: Counter = Counter()
        dn = discounts[n]
        for gram, count in kn[n].items():
            history_total[gram[:-1]] += count
            history_left[gram[:-1]] += _discount(dn, count)
        for history, total_h in history_total.items():
            backoffs[n - 1][history] = history_left[history] / total_h
        for gram, count in kn[n].items():
            history = gram[:-1]
            lower = _lookup(probs, backoffs, gram[1:])
            probs[n][gram] = (count - _discount(dn, count)) / history_total[history] + backoffs[
                n - 1
            ][history] * lower
    summary = LmSummary(
        sentences=lines,
        words=words,
        vocabulary=len(vocab) - 1,
        ngrams={n: len(probs[n]) + (n == 1) for n in range(1, order + 1)},
        discounts={n: [round(d, 4) for d in ds] for n, ds in discounts.items()},
    )
    return probs, backoffs, summary


def _lookup(probs: list[dict], backoffs: list[dict], gram: tuple) -> float:
    """p(gram[-1] | gram[:-1]) through backoff, from the orders computed so far."""
    if gram in probs[len(gram)]:
        return probs[len(gram)][gram]
    if len(gram) == 1:
        return probs[1][("<unk>",)]
    return backoffs[len(gram) - 1].get(gram[:-1], 1.0) * _lookup(probs, backoffs, gram[1:])


def _arpa_lines(probs: list[dict], backoffs: list[dict], order: int) -> Iterator[str]:
    yield "\n\\data\\\n"
    for n in range(1, order + 1):
        yield f"ngram {n}={len(probs[n]) + (1 if n == 1 else 0)}\n"
    for n in range(1, order + 1):
        yield f"\n\\{n}-grams:\n"
        if n == 1:
            yield f"-99\t<s>\t{math.log10(backoffs[1].get(('<s>',), 1.0)):.6f}\n"
        for gram in sorted(probs[n]):
            entry = f"{math.log10(probs[n][gram]):.6f}\t{' '.join(gram)}"
            if n < order and gram in backoffs[n]:
                entry += f"\t{math.log10(backoffs[n][gram]):.6f}"
            yield entry + "\n"
    yield "\n\\end\\\n"


def kneser_ney_arpa(sentences: Iterable[str], order: int = 3) -> str:
    """ARPA text of an interpolated (modified) Kneser-Ney model of space-separated sentences."""
    probs, backoffs, _ = _kneser_ney(sentences, order)
    return "".join(_arpa_lines(probs, backoffs, order))


def write_arpa(sentences: Iterable[str], path: str | Path, order: int = 3) -> LmSummary:
    """Write the ARPA file of ``sentences`` (atomically) and return what it holds."""
    if order < 2:
        raise ValueError("order must be at least 2 (KenLM refuses unigram-only models)")
    started = time.perf_counter()
    probs, backoffs, summary = _kneser_ney(sentences, order)
    with atomic_write(path) as handle:
        handle.writelines(_arpa_lines(probs, backoffs, order))
    summary.seconds = time.perf_counter() - started
    return summary


# ---------------------------------------------------------------- the folder


def write_language_model(sentences: Iterable[str], folder: str | Path, order: int = 3) -> LmSummary:
    """``lm.arpa``, ``unigrams.txt`` and ``attrs.json`` (no alpha/beta until tuned)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.binary"):  # the decoder would prefer a stale binary model
        old.unlink()
    summary = write_arpa(sentences, folder / ARPA_FILE, order)
    words = _arpa_words(folder / ARPA_FILE)
    with atomic_write(folder / "unigrams.txt") as handle:
        handle.write("\n".join(words) + "\n")
    attrs = {"unk_score_offset": -10.0, "score_boundary": True}
    with atomic_write(folder / "attrs.json") as handle:
        handle.write(json.dumps(attrs, indent=2) + "\n")
    return summary


def _arpa_words(path: Path) -> list[str]:
    from ..ctc.language_model import LanguageModelFiles, unigrams_of

    return unigrams_of(LanguageModelFiles(path)) or []


def set_weights(folder: str | Path, alpha: float, beta: float) -> None:
    """Store decoding weights in the folder's ``attrs.json``."""
    path = Path(folder) / "attrs.json"
    attrs = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    attrs |= {"alpha": alpha, "beta": beta}
    with atomic_write(path) as handle:
        handle.write(json.dumps(attrs, indent=2) + "\n")


def tune_weights(
    folder: str | Path,
    vocabulary: CtcVocabulary,
    log_probs: Sequence[np.ndarray],
    references: Sequence[str],
    *,
    frame_s: float = 0.02,
    alphas: Sequence[float] = ALPHAS,
    betas: Sequence[float] = BETAS,
) -> dict[str, Any]:
    """The (alpha, beta) of the grid with the lowest WER (then CER) on these utterances, scored
    by ``eval``'s rules; the grid's figures beside it."""
    from ..ctc.beam import BeamOptions
    from ..evaluate import Entry, score

    entries = [Entry(str(i), str(i), Path(str(i)), text) for i, text in enumerate(references)]
    grid = []
    decoder = BeamOptions(lm=str(folder), workers=1).build(vocabulary, str(folder), None)
    try:
        for alpha in alphas:
            for beta in betas:
                decoder.set_weights(alpha, beta)
                texts = {
                    str(i): " ".join(w.text for w in decoder.decode(lp, 0.0, frame_s))
                    for i, lp in enumerate(log_probs)
                }
                report = score(entries, texts)
                grid.append({"alpha": alpha, "beta": beta, "wer": report.wer, "cer": report.cer})
    finally:
        decoder.close()
    best = min(grid, key=lambda g: (g["wer"], g["cer"]))
    return {**best, "grid": grid}


def build_language_model(
    corpus: Sequence[str | Path],
    folder: str | Path,
    alphabet: Alphabet,
    *,
    order: int = 3,
) -> LmSummary:
    """A language model of the corpus files, normalised to ``alphabet``, in ``folder``."""
    return write_language_model(corpus_sentences(corpus, alphabet), folder, order)


def tune_on_manifest(folder: str | Path, manifest: str | Path, loaded: Any) -> dict[str, Any]:
    """Grid-search alpha/beta for ``loaded`` (a :class:`~..ctc.model.LoadedModel`) on a dev
    manifest and store the best pair in ``attrs.json``."""
    from ..ctc.decode import CtcVocabulary
    from .check import check_data
    from .data import log_probs_of, read_wave
    from .finetune import DataCheckError, frame_seconds

    alphabet = Alphabet.of_tokenizer(loaded.tokenizer)
    frame_s = frame_seconds(loaded.model.config)
    found = check_data(manifest, alphabet, frame_s=frame_s)
    if found.errors:
        raise DataCheckError(found.errors)
    waves = [read_wave(s) for s in found.samples]
    log_probs = log_probs_of(loaded.model, loaded.feature_extractor, waves)
    vocabulary = CtcVocabulary.from_tokenizer(loaded.tokenizer, log_probs[0].shape[-1])
    texts = [s.entry.text for s in found.samples]
    best = tune_weights(folder, vocabulary, log_probs, texts, frame_s=frame_s)
    set_weights(folder, best["alpha"], best["beta"])
    return best


def build_for_model(
    corpus: Sequence[str | Path],
    folder: str | Path,
    model: str | None = None,
    *,
    order: int = 3,
    tune: str | Path | None = None,
) -> LmSummary:
    """``lm build``: the corpus normalised to ``model``'s alphabet (default: the ``ctc``
    stage's model), then, with ``tune``, alpha/beta searched on that dev manifest."""
    from ..ctc import DEFAULT_MODEL
    from ..ctc.model import load_model
    from ..hub import revision_to_load

    name = model or DEFAULT_MODEL
    loaded = load_model(name, revision_to_load(name, None))
    summary = build_language_model(
        corpus, folder, Alphabet.of_tokenizer(loaded.tokenizer), order=order
    )
    if tune is not None:
        summary.tuning = tune_on_manifest(folder, tune, loaded)
        summary.alpha, summary.beta = summary.tuning["alpha"], summary.tuning["beta"]
    with atomic_write(Path(folder) / "build.json") as handle:
        handle.write(json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary
