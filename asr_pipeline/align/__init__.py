"""Forced alignment: a known transcript timed against its audio with the CTC model.

:func:`align` places the text's utterances (sentences) one after another: each is looked for
in a window that starts where the previous one ended and reaches ``lookahead_s`` beyond its
expected length, as the best CTC path spelling it that may start and end anywhere in the window
(:func:`spot`); a short window of :data:`NEAR_S` past it is tried first. The model's
log-probabilities are computed block by block (:data:`BLOCK_S` of audio, the ``ctc`` stage's
windows and batches) as the search reaches them, and dropped once it has passed them
(:class:`Frames`): memory is bounded by the window and a block, not by the file.

An utterance whose best path is poor (score below ``min_score``) is *not found*: it gets no
times, is reported with the span where it was expected, and the next one is looked for from
the same place. Stretches of audio between placed utterances where the model hears words are
reported as *unaligned audio*, with what it heard. Nothing is stretched over a gap.

Scores are in [0, 1]: the geometric mean, over the path's frames, of the path label's
probability relative to the frame's most likely label (1: the text is what the model would
have written anyway).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..types import Audio, Metadata, Segment, Transcript, Word
from .text import Utterance, utterances

if TYPE_CHECKING:
    import numpy as np

    from ..ctc import CtcStage

__all__ = ["Frames", "Placed", "align", "spot"]

BLOCK_S = 300.0
"""Seconds of audio read and recognised at a time."""
NEAR_S = 3.0
"""An utterance is first looked for within this many seconds past its expected length; only
when not found there, within ``lookahead_s``."""
_START = 3
"""Back-pointer of a path that starts at this frame (the frames before it are outside it)."""


@dataclass(frozen=True)
class Placed:
    """Where a run of spoken words lies in a window: per word its frames ``[first, end)``,
    the path's first and last frame, and the path's score."""

    spans: list[tuple[int, int]]
    first: int
    end: int
    score: float
    word_scores: list[float]


def spot(
    log_probs: np.ndarray, words: Sequence[Sequence[int]], silent: Sequence[int]
) -> Placed | None:
    """The best CTC path spelling ``words`` (label ids per word) that starts and ends anywhere
    in ``log_probs`` (frames x labels); None if the words cannot fit in the frames.

    Labels in ``silent`` fill the frames between letters; a letter repeated within or across
    words needs one of them in between, as CTC requires.
    """
    import numpy as np

    letters = np.array([label for word in words for label in word], dtype=np.int64)
    frames, count = len(log_probs), 2 * len(letters) + 1
    if not len(letters) or frames < len(letters):
        return None
    silence = log_probs[:, list(silent)].max(axis=1)
    emission = np.empty(count, dtype=np.float64)
    skip = np.zeros(count, dtype=bool)
    skip[3::2] = letters[1:] != letters[:-1]
    back = np.zeros((frames, count), dtype=np.int8)
    best = np.full(count, -np.inf)
    step, jump, columns = np.full(count, -np.inf), np.full(count, -np.inf), np.arange(count)
    end_score, end_at = -np.inf, (0, 0)
    for t in range(frames):
        emission[0::2] = silence[t]
        emission[1::2] = log_probs[t, letters]
        step[1:] = best[:-1]
        jump[2:] = np.where(skip[2:], best[:-2], -np.inf)
        choices = np.stack((best, step, jump))
        move = choices.argmax(axis=0)
        best = choices[move, columns] + emission
        for state in (0, 1):  # a path may start at any frame
            if not best[state] >= emission[state]:
                best[state], move[state] = emission[state], _START
        back[t] = move
        if best[count - 2] > end_score:  # a path may end at any frame (on its last letter)
            end_score, end_at = best[count - 2], (t, count - 2)
    if not np.isfinite(end_score):
        return None
    t, state = end_at
    last = t
    path = np.full(last + 1, -1, dtype=np.int64)
    while True:
        path[t] = state
        move = int(back[t, state])
        if move == _START:
            break
        state -= move
        t -= 1
    first = t
    path = path[first:]
    label = np.where(path % 2 == 1, letters[np.maximum(path - 1, 0) // 2], -1)
    window = log_probs[first : last + 1]
    chosen = np.where(
        label >= 0,
        window[np.arange(len(path)), np.maximum(label, 0)],
        silence[first : last + 1],
    )
    relative = chosen - window.max(axis=1)  # <= 0: how far below the frame's best label
    letter_frames = np.flatnonzero(path % 2 == 1)
    letter_of_frame = (path[letter_frames] - 1) // 2
    bounds = np.searchsorted(letter_of_frame, np.cumsum([0, *[len(w) for w in words]]))
    spans, word_scores = [], []
    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        a, b = int(letter_frames[low]), int(letter_frames[high - 1]) + 1
        spans.append((first + a, first + b))
        word_scores.append(float(np.exp(relative[a:b].mean())))
    return Placed(spans, first, last + 1, float(np.exp(relative.mean())), word_scores)


def align(
    audio: Audio,
    text: str,
    stage: CtcStage,
    *,
    min_score: float = 0.3,
    lookahead_s: float = 30.0,
    min_gap_s: float = 1.0,
) -> Transcript:
    """``text`` timed against ``audio`` with ``stage``'s model: a transcript of one segment per
    utterance found, words as written with their times and scores; ``metadata.extra
    ["alignment"]`` lists every utterance (``text``, ``start``, ``end``, ``score``,
    ``found``) and the ``unaligned_audio`` (``start``, ``end``, ``heard``)."""
    from .. import __version__

    frames = Frames(audio, stage)
    recognizer, vocabulary = stage.recognizer, stage.decoder.vocabulary
    frame_s = recognizer.frame_s
    ids = {label.lower(): i for i, label in enumerate(vocabulary.labels) if len(label) == 1}
    for index in (vocabulary.blank, vocabulary.delimiter, *vocabulary.ignored):
        ids = {k: v for k, v in ids.items() if v != index}
    silent = [vocabulary.blank, *sorted(vocabulary.ignored)]
    if vocabulary.delimiter is not None:
        silent.append(vocabulary.delimiter)
    lookahead, near = round(lookahead_s / frame_s), round(NEAR_S / frame_s)
    cursor = 0
    report: list[dict[str, Any]] = []
    segments: list[Segment] = []
    unaligned: list[dict[str, Any]] = []
    hear = _Listener(stage, min_gap_s)
    for utterance in utterances(text, set(ids)):
        spelled = [[ids[c] for c in word] for t in utterance.tokens for word in t.spoken]
        letters = sum(len(w) for w in spelled)
        found = None
        for reach in (6 * letters + near, 8 * letters + lookahead):  # most are found near
            found = spot(frames.window(cursor, cursor + reach), spelled, silent)
            if found is not None and found.score >= min_score:
                break
        if found is None or found.score < min_score:
            score = 0.0 if found is None else round(found.score, 4)
            report.append(
                {"text": utterance.text, "start": None, "end": None, "score": score, "found": False}
            )
            continue
        words = _words(utterance, found, cursor, frames, frame_s)
        start_frame, end_frame = cursor + found.first, cursor + found.end
        unaligned += hear(frames, cursor, start_frame)
        segments.append(Segment(words[0].start, words[-1].end, tuple(words)))
        report.append(
            {
                "text": utterance.text,
                "start": words[0].start,
                "end": words[-1].end,
                "score": round(found.score, 4),
                "found": True,
            }
        )
        cursor = end_frame
        frames.release(cursor)
    while frames.window(cursor, cursor + frames.block).shape[0]:  # audio after the last text
        end = min(frames.known, cursor + frames.block)
        unaligned += hear(frames, cursor, end)
        cursor = end
        frames.release(cursor)
    _place_missing(report, audio.duration)
    metadata = Metadata(
        version=__version__,
        model=stage.model,
        revision=stage.revision,
        stages=("align",),
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        extra={"alignment": {"utterances": report, "unaligned_audio": unaligned}},
    )
    return Transcript(tuple(segments), audio.source, audio.duration, metadata, audio)


class Frames:
    """The model's log-probabilities over ``audio``, computed a block at a time as far as they
    are asked for, and held only from the last :meth:`release` on. Indices are absolute frame
    numbers from the audio's start. :attr:`peak` is the most frames ever held at once."""

    def __init__(self, audio: Audio, stage: CtcStage, block_s: float | None = None) -> None:
        import numpy as np

        block_s = block_s or BLOCK_S
        self._recognizer = stage.recognizer
        self._blocks = audio.blocks(block_s)
        self.block = round(block_s / stage.recognizer.frame_s)
        """Frames in a block, about."""
        self._held = np.zeros((0, stage.backend.vocabulary_size), dtype=np.float32)
        self._first = 0
        """The absolute index of the first frame held."""
        self._starts: list[tuple[int, float]] = []
        """``(first frame, start time)`` of every block read: a few numbers an hour."""
        self._done = False
        self.peak = 0

    @property
    def known(self) -> int:
        """Frames computed so far (the absolute index after the last)."""
        return self._first + len(self._held)

    def window(self, start: int, end: int) -> np.ndarray:
        """Frames ``[start, end)``, cut short at the audio's end; ``start`` must not be before
        the last release."""
        import numpy as np

        if start < self._first:
            raise ValueError(f"frame {start} was released (held from {self._first})")
        while self.known < end and not self._done:
            block = next(self._blocks, None)
            if block is None:
                self._done = True
                break
            found = self._recognizer.log_probs([(0, block[1])]).get(0)
            if found is not None and len(found):
                self._starts.append((self.known, block[0]))
                self._held = np.concatenate((self._held, found))
                self.peak = max(self.peak, len(self._held))
        return self._held[start - self._first : end - self._first]

    def release(self, before: int) -> None:
        """Forget the frames before ``before``."""
        drop = min(max(0, before - self._first), len(self._held))
        self._held = self._held[drop:].copy()
        self._first += drop

    def time(self, index: int) -> float:
        """The start time (seconds) of frame ``index``."""
        first, start = next((f, s) for f, s in reversed(self._starts) if f <= index)
        return start + (index - first) * self._recognizer.frame_s


def _words(
    utterance: Utterance, found: Placed, offset: int, frames: Frames, frame_s: float
) -> list[Word]:
    """The utterance's tokens as written, each spanning its spoken words (a number's words
    share one span), scored by their lowest word."""
    words, k = [], 0
    for token in utterance.tokens:
        n = len(token.spoken)
        spans, scores = found.spans[k : k + n], found.word_scores[k : k + n]
        k += n
        start = frames.time(offset + spans[0][0])
        end = frames.time(offset + spans[-1][1] - 1) + frame_s
        words.append(Word(token.text, round(start, 3), round(end, 3), round(min(scores), 4)))
    return words


def _place_missing(report: list[dict[str, Any]], duration: float) -> None:
    """Give each utterance not found the span where it was expected: from the end of the
    utterance found before it to the start of the one found after it."""
    previous = 0.0
    for i, item in enumerate(report):
        if item["found"]:
            previous = item["end"]
            continue
        following = next((r["start"] for r in report[i + 1 :] if r["found"]), duration)
        item["start"], item["end"] = round(previous, 3), round(following, 3)


class _Listener:
    """Finds stretches of at least ``min_gap_s`` outside the placed utterances where greedy
    decoding hears words."""

    def __init__(self, stage: CtcStage, min_gap_s: float) -> None:
        from ..ctc import GreedyDecoder

        self.decoder = GreedyDecoder(stage.decoder.vocabulary)
        self.frame_s = stage.recognizer.frame_s
        self.min_gap_s = min_gap_s

    def __call__(self, frames: Frames, low: int, high: int) -> list[dict[str, Any]]:
        if high <= low or (high - low) * self.frame_s < self.min_gap_s:
            return []
        words = self.decoder.decode(frames.window(low, high), frames.time(low), self.frame_s)
        if not words:
            return []
        heard = " ".join(w.text for w in words)
        return [{"start": words[0].start, "end": words[-1].end, "heard": heard}]
