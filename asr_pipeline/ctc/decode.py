"""Decoders: log-probabilities of one segment in, timed words out.

A decoder sees one segment's stitched log-probabilities (frames x vocabulary) and the time of its
first frame; it returns :class:`~asr_pipeline.types.Word` objects with absolute times. The greedy
decoder lives here; a beam-search decoder plugs in by offering the same ``decode`` method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..types import Word
from .confidence import METHODS, Confidence, spelling_posteriors

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CtcVocabulary", "Decoder", "GreedyDecoder"]


@dataclass(frozen=True)
class CtcVocabulary:
    """What each output index of a CTC model means.

    ``labels[i]`` is the text of index ``i``; ``blank`` is the CTC blank (the tokenizer's pad);
    ``delimiter`` separates words; indices in ``ignored`` (``<s>``, ``</s>``, ``<unk>``) emit
    nothing.
    """

    labels: tuple[str, ...]
    blank: int
    delimiter: int | None
    ignored: frozenset[int] = frozenset()

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, size: int) -> CtcVocabulary:
        """Read the labels of the model's ``size`` outputs from a CTC tokenizer."""
        labels = tuple(str(tokenizer.convert_ids_to_tokens(i) or "") for i in range(size))
        blank = tokenizer.pad_token_id
        if blank is None:
            raise ValueError("the tokenizer has no pad token to serve as the CTC blank")
        delimiter = getattr(tokenizer, "word_delimiter_token_id", None)
        if delimiter is None and " " in labels:
            delimiter = labels.index(" ")
        ignored = {i for i in tokenizer.all_special_ids if i < size} - {blank, delimiter}
        return cls(labels, blank, delimiter, frozenset(ignored))


class Decoder(Protocol):
    """Turns one segment's log-probabilities into timed words."""

    def decode(self, log_probs: np.ndarray, start: float, frame_s: float) -> list[Word]:
        """``log_probs``: (frames, vocabulary); ``start``: time of frame 0 (seconds, absolute);
        ``frame_s``: seconds between frames."""
        ...


class GreedyDecoder:
    """Best path CTC decoding: the most likely label per frame, repeats merged, blanks dropped.

    A word spans the first frame of its first character to the last frame of its last
    character (end exclusive: one frame past it). Its score is its ``confidence`` over the
    frames that emit its characters, with the posterior of its spelling (:mod:`.confidence`).
    """

    def __init__(
        self, vocabulary: CtcVocabulary, confidence: Confidence = METHODS["entropy"]
    ) -> None:
        self.vocabulary = vocabulary
        self.confidence = confidence
        self._letters = [label.lower() for label in vocabulary.labels]

    def decode(self, log_probs: np.ndarray, start: float, frame_s: float) -> list[Word]:
        import numpy as np

        if len(log_probs) == 0:
            return []
        best = log_probs.argmax(axis=1)
        # Runs of one label: [run_starts[i], run_starts[i+1]).
        run_starts = np.flatnonzero(np.r_[True, best[1:] != best[:-1]])
        run_ends = np.r_[run_starts[1:], len(best)]
        vocab = self.vocabulary
        spelled: list[list[int]] = []  # per word: its labels, and the frames that emit them
        letter_frames: list[list[int]] = []
        word: list[int] = []
        frames: list[int] = []
        for run_start, run_end in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
            label = int(best[run_start])
            if label == vocab.delimiter:
                if word:
                    spelled.append(word)
                    letter_frames.append(frames)
                word, frames = [], []
            elif label != vocab.blank and label not in vocab.ignored:
                word.append(label)
                frames.extend(range(run_start, run_end))
        if word:
            spelled.append(word)
            letter_frames.append(frames)
        return self._words(log_probs, spelled, letter_frames, start, frame_s)

    def _words(
        self,
        log_probs: np.ndarray,
        spelled: list[list[int]],
        letter_frames: list[list[int]],
        start: float,
        frame_s: float,
    ) -> list[Word]:
        """Timed, scored words from their labels and the frames that emit them."""
        confidence = self.confidence.frames(log_probs)
        scores = [self.confidence.word(confidence, frames) for frames in letter_frames]
        if self.confidence.posterior and spelled:
            vocab = self.vocabulary
            silent = [vocab.blank, *sorted(vocab.ignored)]
            silent += [] if vocab.delimiter is None else [vocab.delimiter]
            spans = [
                (labels, frames[0], frames[-1] + 1)
                for labels, frames in zip(spelled, letter_frames, strict=True)
            ]
            posteriors = spelling_posteriors(
                log_probs, spans, silent, self.confidence.posterior_context
            )
            scores = [
                score if posterior is None else self.confidence.combine(score, posterior)
                for score, posterior in zip(scores, posteriors, strict=True)
            ]
        return [
            Word(
                "".join(self._letters[label] for label in labels),
                round(start + frames[0] * frame_s, 3),
                round(start + (frames[-1] + 1) * frame_s, 3),
                score,
            )
            for labels, frames, score in zip(spelled, letter_frames, scores, strict=True)
        ]
