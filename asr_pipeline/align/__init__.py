"""Forced alignment: a known transcript timed against its audio with the CTC model.

:func:`align` reads the audio in blocks (the ``ctc`` stage's windows and batches), keeps the
log-probabilities (a few bytes per label and frame: about 30 MB an hour for a 40-letter model,
never the audio), and places the text's utterances (sentences) one after another: each is
looked for in a window that starts where the previous one ended and reaches ``lookahead_s``
beyond its expected length, as the best CTC path spelling it that may start and end anywhere
in the window (:func:`spot`); a short window of :data:`NEAR_S` past it is tried first. Memory
is bounded by that window, not by the file.

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

__all__ = ["Placed", "align", "spot"]

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

    log_probs, times = _log_probs(audio, stage)
    recognizer, vocabulary = stage.recognizer, stage.decoder.vocabulary
    frame_s = recognizer.frame_s
    ids = {label.lower(): i for i, label in enumerate(vocabulary.labels) if len(label) == 1}
    for index in (vocabulary.blank, vocabulary.delimiter, *vocabulary.ignored):
        ids = {k: v for k, v in ids.items() if v != index}
    silent = [vocabulary.blank, *sorted(vocabulary.ignored)]
    if vocabulary.delimiter is not None:
        silent.append(vocabulary.delimiter)
    lookahead, near = round(lookahead_s / frame_s), round(NEAR_S / frame_s)
    cursor, total = 0, len(log_probs)
    report: list[dict[str, Any]] = []
    segments: list[Segment] = []
    placed_frames: list[tuple[int, int]] = []
    for utterance in utterances(text, set(ids)):
        spelled = [[ids[c] for c in word] for t in utterance.tokens for word in t.spoken]
        letters = sum(len(w) for w in spelled)
        found = None
        for reach in (6 * letters + near, 8 * letters + lookahead):  # most are found near
            found = spot(log_probs[cursor : min(total, cursor + reach)], spelled, silent)
            if found is not None and found.score >= min_score:
                break
        if found is None or found.score < min_score:
            score = 0.0 if found is None else round(found.score, 4)
            report.append(
                {"text": utterance.text, "start": None, "end": None, "score": score, "found": False}
            )
            continue
        words = _words(utterance, found, cursor, times, frame_s)
        start_frame, end_frame = cursor + found.first, cursor + found.end
        segments.append(Segment(words[0].start, words[-1].end, tuple(words)))
        placed_frames.append((start_frame, end_frame))
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
    _place_missing(report, audio.duration)
    unaligned = _unaligned_audio(log_probs, times, placed_frames, stage, min_gap_s)
    metadata = Metadata(
        version=__version__,
        model=stage.model,
        revision=stage.revision,
        stages=("align",),
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        extra={"alignment": {"utterances": report, "unaligned_audio": unaligned}},
    )
    return Transcript(tuple(segments), audio.source, audio.duration, metadata, audio)


def _log_probs(audio: Audio, stage: CtcStage) -> tuple[np.ndarray, np.ndarray]:
    """The model's log-probabilities over the whole audio, block by block, and each frame's
    start time (seconds)."""
    import numpy as np

    recognizer = stage.recognizer
    parts, times = [], []
    for start, samples in audio.blocks(BLOCK_S):
        found = recognizer.log_probs([(0, samples)]).get(0)
        if found is None or not len(found):
            continue
        parts.append(found)
        times.append(start + np.arange(len(found)) * recognizer.frame_s)
    if not parts:
        size = stage.backend.vocabulary_size
        return np.zeros((0, size), dtype=np.float32), np.zeros(0)
    return np.concatenate(parts), np.concatenate(times)


def _words(
    utterance: Utterance, found: Placed, offset: int, times: np.ndarray, frame_s: float
) -> list[Word]:
    """The utterance's tokens as written, each spanning its spoken words (a number's words
    share one span), scored by their lowest word."""
    words, k = [], 0
    for token in utterance.tokens:
        n = len(token.spoken)
        spans, scores = found.spans[k : k + n], found.word_scores[k : k + n]
        k += n
        start = float(times[offset + spans[0][0]])
        end = float(times[offset + spans[-1][1] - 1]) + frame_s
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


def _unaligned_audio(
    log_probs: np.ndarray,
    times: np.ndarray,
    placed: list[tuple[int, int]],
    stage: CtcStage,
    min_gap_s: float,
) -> list[dict[str, Any]]:
    """Stretches of at least ``min_gap_s`` outside every placed utterance where greedy
    decoding hears words."""
    from ..ctc import GreedyDecoder

    decoder = GreedyDecoder(stage.decoder.vocabulary)
    frame_s = stage.recognizer.frame_s
    edges = [0, *(f for span in placed for f in span), len(log_probs)]
    found = []
    for low, high in zip(edges[0::2], edges[1::2], strict=True):
        if high <= low or (high - low) * frame_s < min_gap_s:
            continue
        words = decoder.decode(log_probs[low:high], float(times[low]), frame_s)
        if words:
            found.append(
                {
                    "start": words[0].start,
                    "end": words[-1].end,
                    "heard": " ".join(w.text for w in words),
                }
            )
    return found
