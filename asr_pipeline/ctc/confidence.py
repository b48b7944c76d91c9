"""Word confidence from CTC posteriors: how sure the model was of each word, in [0, 1].

A per-frame confidence is computed from the whole distribution of each frame and aggregated over
a word's frames. Two methods:

- ``entropy`` (the default), after Laptev & Ginsburg, *Fast entropy-based methods of word-level
  confidence estimation for end-to-end ASR* (arXiv 2212.08703): each frame's confidence is one
  minus its Tsallis entropy (alpha = 0.75) over the entropy of a uniform frame (linear
  normalisation); a word's is the product over its frames, from its first letter to its last
  and 8 frames (160 ms for wav2vec2) either side. Flat frames, where the model hesitates between
  letters or between a letter and silence, pull a word down even when the winning letter is
  fairly likely; the frames around a word catch a boundary the model was unsure of (a word
  split in two, two words run together); the product makes a long word the model hesitated
  over repeatedly less trusted than a short one with one doubtful frame.
- ``max_prob``: the mean probability of the most likely label over the frames that emit the
  word's letters; the usual baseline.

Frames say how sharp the model was, not whether another word would fit them as well. With the
``entropy`` method a word's confidence is therefore the square root of its frame confidence
times its posterior:

- a greedy word's is the CTC posterior of its spelling over its own frames and 2 either side
  (never into a neighbour's letters), the probability of every path through those frames that
  spells exactly it (:func:`spelling_posteriors`): a letter the model split between two
  candidates halves it, wherever the frames were sharp;
- a beam-search word's is its N-best posterior (:func:`word_posteriors`): the share of the
  beams' probability, from their combined acoustic and language-model scores at temperature 2,
  held by the beams with the same word overlapping it in time, so a word the language model
  pulled in against the acoustics is doubted too.

The settings were chosen on held-out espeak sentences with ``benchmarks/bench_confidence.py``,
which measures how well each method ranks wrong words below right ones (AUROC).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np

__all__ = ["METHODS", "Confidence", "spelling_posteriors", "word_posteriors"]


@dataclass(frozen=True)
class Confidence:
    """One way of scoring frames and words.

    ``measure``: ``max_prob``, ``tsallis``, ``renyi`` or ``gibbs`` (Shannon entropy);
    ``alpha``: the entropy's order (ignored by ``gibbs`` and ``max_prob``); ``normalisation``:
    ``lin`` (1 - H / H_max) or ``exp`` ((e^-H - e^-H_max) / (1 - e^-H_max)); ``aggregate``:
    ``min``, ``mean`` or ``prod`` over a word's frames; ``span``: the word's frames are those
    that emit its letters (False) or all from its first letter to its last (True), widened
    by ``context`` frames on either side.
    """

    measure: Literal["max_prob", "tsallis", "renyi", "gibbs"] = "tsallis"
    alpha: float = 0.75
    normalisation: Literal["lin", "exp"] = "lin"
    aggregate: Literal["min", "mean", "prod"] = "prod"
    span: bool = True
    context: int = 8
    posterior: bool = True
    """Weigh each word by its posterior too: the spelling posterior of a greedy word, the
    N-best posterior of a beam-search word; False scores words on their frames alone."""
    posterior_context: int = 2
    """Frames either side of a greedy word's letters that its spelling posterior covers."""
    beam_temperature: float = 2.0
    """The temperature of the beams' scores in the N-best posterior."""
    frame_weight: float = 0.5
    """The power of the frame confidence in a word's confidence when it has a posterior."""

    def combine(self, frame_confidence: float, posterior: float) -> float:
        """A word's confidence from its frame confidence and its posterior."""
        value = frame_confidence**self.frame_weight * posterior
        return round(min(max(value, 0.0), 1.0), 4)

    def frames(self, log_probs: np.ndarray) -> np.ndarray:
        """Confidence of each frame of ``log_probs`` (frames x labels), in [0, 1]."""
        import numpy as np

        lp = np.asarray(log_probs, dtype=np.float64)
        if self.measure == "max_prob":
            return np.exp(lp.max(axis=1)) if len(lp) else np.zeros(0)
        size = lp.shape[1]
        probs = np.exp(lp)
        if self.measure == "gibbs":
            entropy = -(probs * np.where(probs > 0, lp, 0.0)).sum(axis=1)
            most = math.log(size)
        elif self.measure == "tsallis":
            entropy = (1.0 - np.exp(self.alpha * lp).sum(axis=1)) / (self.alpha - 1.0)
            most = (1.0 - size ** (1.0 - self.alpha)) / (self.alpha - 1.0)
        elif self.measure == "renyi":
            entropy = np.log(np.exp(self.alpha * lp).sum(axis=1)) / (1.0 - self.alpha)
            most = math.log(size)
        else:
            raise ValueError(f"unknown confidence measure {self.measure!r}")
        entropy = np.clip(entropy, 0.0, most)
        if self.normalisation == "lin":
            return 1.0 - entropy / most
        return (np.exp(-entropy) - math.exp(-most)) / (1.0 - math.exp(-most))

    def word(self, frame_confidence: np.ndarray, letter_frames: Sequence[int]) -> float:
        """A word's confidence from the frames that emit its letters (indices into
        ``frame_confidence``), rounded to four places; 0 for a word with no frames."""
        import numpy as np

        if not len(letter_frames):
            return 0.0
        if self.span:
            low = max(0, min(letter_frames) - self.context)
            values = np.asarray(frame_confidence)[low : max(letter_frames) + 1 + self.context]
        else:
            values = np.asarray(frame_confidence)[np.asarray(letter_frames, dtype=np.int64)]
        if self.aggregate == "min":
            value = float(values.min())
        elif self.aggregate == "prod":
            value = float(np.prod(values))
        else:
            value = float(values.mean())
        return round(min(max(value, 0.0), 1.0), 4)


SPELLING_CELLS = 4_000_000
"""Words whose spelling posteriors are computed together share a table of words x frames x
states of at most this many cells (32 MB); a word whose own table is larger gets none."""


def spelling_posteriors(
    log_probs: np.ndarray,
    words: Sequence[tuple[Sequence[int], int, int]],
    silent: Sequence[int],
    context: int = 2,
) -> list[float | None]:
    """The CTC posterior of each word's spelling over its frames (None for a word too long to
    compute: see :data:`SPELLING_CELLS`).

    ``words``: ``(labels, first, end)`` in time order, the label ids a word spells and the
    frames from its first letter to one past its last. Each word's window is widened by
    ``context`` frames either side, but never into a neighbour's letters. The labels in
    ``silent`` (the blank, the word delimiter, special tokens) count as one silence; the
    posterior is the total probability of the paths through the window that spell exactly
    the word (the CTC forward algorithm), so over all spellings it sums to one.
    """
    import numpy as np

    lp = np.asarray(log_probs, dtype=np.float64)
    silence = np.logaddexp.reduce(lp[:, list(silent)], axis=1)
    windows = []
    for i, (labels, first, end) in enumerate(words):
        low = max(0, first - context, words[i - 1][2] if i else 0)
        high = min(len(lp), end + context, words[i + 1][1] if i + 1 < len(words) else len(lp))
        windows.append((np.asarray(labels, dtype=np.int64), low, max(high, low)))
    posteriors: list[float | None] = []
    batch: list[tuple[np.ndarray, int, int]] = []
    for window in windows:
        if _cells([window]) > SPELLING_CELLS:
            posteriors += _forward(lp, silence, batch) + [None]
            batch = []
            continue
        if _cells([*batch, window]) > SPELLING_CELLS:
            posteriors += _forward(lp, silence, batch)
            batch = []
        batch.append(window)
    return posteriors + _forward(lp, silence, batch)


def _cells(windows: Sequence[tuple[np.ndarray, int, int]]) -> int:
    """The size of the forward table of ``windows``."""
    states = max(2 * len(labels) + 1 for labels, _, _ in windows)
    return len(windows) * states * max(high - low for _, low, high in windows)


def _forward(
    lp: np.ndarray, silence: np.ndarray, windows: Sequence[tuple[np.ndarray, int, int]]
) -> list[float | None]:
    """The CTC forward algorithm for several words at once, in log space: the states of word
    ``i`` are silence, letter 0, silence, letter 1, ..., silence, padded to the longest."""
    import numpy as np

    if not windows:
        return []
    count = len(windows)
    states = max(2 * len(labels) + 1 for labels, _, _ in windows)
    frames = max(high - low for _, low, high in windows)
    if frames == 0:
        return [0.0] * count
    emission = np.full((count, frames, states), -np.inf)
    skip = np.zeros((count, states), dtype=bool)
    for i, (labels, low, high) in enumerate(windows):
        size = 2 * len(labels) + 1
        emission[i, : high - low, 0:size:2] = silence[low:high, None]
        emission[i, : high - low, 1:size:2] = lp[low:high][:, labels]
        skip[i, 3:size:2] = labels[1:] != labels[:-1]  # a repeated letter needs silence between
    alpha = np.full((count, states), -np.inf)
    alpha[:, :2] = emission[:, 0, :2]
    last = np.array([high - low - 1 for _, low, high in windows])
    final = np.full((count, states), -np.inf)
    final[last == 0] = alpha[last == 0]
    step = np.full((count, states), -np.inf)
    jump = np.full((count, states), -np.inf)
    for t in range(1, frames):
        step[:, 1:] = alpha[:, :-1]
        jump[:, 2:] = np.where(skip[:, 2:], alpha[:, :-2], -np.inf)
        with np.errstate(invalid="ignore"):  # -inf + -inf stays -inf
            alpha = np.logaddexp(np.logaddexp(alpha, step), jump) + emission[:, t]
        final[last == t] = alpha[last == t]
    ends = np.array([2 * len(labels) for labels, _, _ in windows])
    rows = np.arange(count)
    total = np.logaddexp(final[rows, ends], final[rows, np.maximum(ends - 1, 0)])
    return [float(min(1.0, np.exp(value))) for value in total]


def word_posteriors(
    beams: Sequence[tuple[float, Sequence[tuple[str, tuple[int, int]]]]], temperature: float
) -> list[float]:
    """The posterior of each word of the best beam in an N-best list.

    ``beams``: ``(score, words)`` pairs, best first, each word ``(text, (first, end))`` in
    frames. The beams' probabilities are the softmax of their scores over ``temperature``; a
    word's posterior is the sum of those of the beams holding the same text over overlapping
    frames (the best beam always does, so it is at least that beam's share).
    """
    import numpy as np

    if not beams:
        return []
    scores = np.array([score for score, _ in beams], dtype=np.float64) / temperature
    shares = np.exp(scores - scores.max())
    shares /= shares.sum()
    found = []
    for _, words in beams:
        spans: dict[str, list[tuple[int, int]]] = {}
        for text, span in words:
            spans.setdefault(text, []).append((span[0], max(span[1], span[0] + 1)))
        found.append(spans)
    posteriors = []
    for text, (first, end) in beams[0][1]:
        end = max(end, first + 1)
        posterior = 0.0
        for share, spans in zip(shares, found, strict=True):
            if any(min(end, e) > max(first, f) for f, e in spans.get(text, ())):
                posterior += share
        posteriors.append(float(min(posterior, 1.0)))
    return posteriors


METHODS = {
    "entropy": Confidence(),
    "max_prob": Confidence("max_prob", aggregate="mean", span=False, context=0, posterior=False),
}
"""The methods the ``ctc`` stage's ``confidence`` option names."""
