"""CTC forced alignment: where each word of a known text lies in a segment's log-probabilities.

Beam search tells *which* words were said; :func:`align_words` finds *when*, as the single most
likely CTC path that spells those words (Viterbi), so beam and greedy decoding time words the
same way: first frame of the first letter to one frame past the last letter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["MAX_CELLS", "WordSpan", "align_words"]

MAX_CELLS = 20_000_000
"""Frames x path states beyond which :func:`align_words` refuses (its table is one byte a cell):
about two minutes of speech in one segment."""


@dataclass(frozen=True)
class WordSpan:
    """A word's frames ``[first, end)``, the frames that emit its letters, and the mean
    probability of its letters on them."""

    first: int
    end: int
    score: float
    letter_frames: tuple[int, ...] = ()


def align_words(
    log_probs: np.ndarray, words: Sequence[Sequence[int]], silent: Sequence[int]
) -> list[WordSpan] | None:
    """The best CTC path through ``log_probs`` (frames x labels) spelling ``words`` (label ids
    per word), one span per word.

    Labels in ``silent`` (the blank and the word delimiter) may fill any frame between letters
    and at either end; a letter repeated across a word boundary or within a word needs one of
    them in between, as CTC requires. None when the words cannot fit in the frames, or the
    table would exceed :data:`MAX_CELLS`.
    """
    import numpy as np

    letters = np.array([label for word in words for label in word], dtype=np.int64)
    frames = len(log_probs)
    count = 2 * len(letters) + 1  # states: silence, letter 0, silence, letter 1, ..., silence
    if not len(letters) or frames < len(letters) or frames * count > MAX_CELLS:
        return None
    silence = log_probs[:, list(silent)].max(axis=1)
    emission = np.empty(count, dtype=np.float64)

    def emissions(t: int) -> np.ndarray:
        emission[0::2] = silence[t]
        emission[1::2] = log_probs[t, letters]
        return emission

    # A letter may follow the previous letter directly unless it is the same label.
    skip = np.zeros(count, dtype=bool)
    skip[3::2] = letters[1:] != letters[:-1]
    best = np.full(count, -np.inf)
    best[:2] = emissions(0)[:2]
    back = np.zeros((frames, count), dtype=np.int8)
    step = np.full(count, -np.inf)
    jump = np.full(count, -np.inf)
    columns = np.arange(count)
    for t in range(1, frames):
        step[1:] = best[:-1]
        jump[2:] = np.where(skip[2:], best[:-2], -np.inf)
        choices = np.stack((best, step, jump))
        move = choices.argmax(axis=0)
        back[t] = move
        best = choices[move, columns] + emissions(t)
    state = count - 1 if best[count - 1] >= best[count - 2] else count - 2
    if not np.isfinite(best[state]):
        return None
    path = np.empty(frames, dtype=np.int64)
    for t in range(frames - 1, -1, -1):
        path[t] = state
        state -= int(back[t, state])
    return _spans(path, log_probs, letters, [len(word) for word in words])


def _spans(
    path: np.ndarray, log_probs: np.ndarray, letters: np.ndarray, lengths: Sequence[int]
) -> list[WordSpan]:
    import numpy as np

    letter_frames = np.flatnonzero(path % 2 == 1)
    letter_of_frame = (path[letter_frames] - 1) // 2  # non-decreasing along the path
    probs = np.exp(log_probs[letter_frames, letters[letter_of_frame]])
    bounds = np.searchsorted(letter_of_frame, np.cumsum([0, *lengths]))
    return [
        WordSpan(
            int(letter_frames[low]),
            int(letter_frames[high - 1]) + 1,
            float(probs[low:high].mean()),
            tuple(letter_frames[low:high].tolist()),
        )
        for low, high in zip(bounds[:-1], bounds[1:], strict=True)
    ]
