"""Decoders: log-probabilities of one segment in, timed words out.

A decoder sees one segment's stitched log-probabilities (frames x vocabulary) and the time of its
first frame; it returns :class:`~asr_pipeline.types.Word` objects with absolute times. The greedy
decoder lives here; a beam-search decoder plugs in by offering the same ``decode`` method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..types import Word
from .confidence import METHODS, Confidence

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
    frames that emit its characters (:mod:`.confidence`).
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
        confidence = self.confidence.frames(log_probs)
        # Runs of one label: [run_starts[i], run_starts[i+1]).
        run_starts = np.flatnonzero(np.r_[True, best[1:] != best[:-1]])
        run_ends = np.r_[run_starts[1:], len(best)]
        vocab = self.vocabulary
        words: list[Word] = []
        text: list[str] = []
        first = last = 0
        letter_frames: list[int] = []

        def flush() -> None:
            if text:
                words.append(
                    Word(
                        "".join(text),
                        round(start + first * frame_s, 3),
                        round(start + (last + 1) * frame_s, 3),
                        self.confidence.word(confidence, letter_frames),
                    )
                )
            text.clear()
            letter_frames.clear()

        for run_start, run_end in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
            label = int(best[run_start])
            if label == vocab.delimiter:
                flush()
            elif label == vocab.blank or label in vocab.ignored:
                continue
            else:
                if not text:
                    first = run_start
                last = run_end - 1
                text.append(self._letters[label])
                letter_frames.extend(range(run_start, run_end))
        flush()
        return words
