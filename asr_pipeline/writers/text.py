"""The plain-text format: paragraphs of running text."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import TextIO

from ..types import Transcript, Word

__all__ = ["TextWriter"]

_SENTENCE_END = (".", "!", "?", "…")
_CLOSING = "»\"”')]"


class TextWriter:
    """Readable plain text: paragraphs split at long pauses, speaker turns and a length limit.

    Options:
        paragraph_pause: start a new paragraph after a pause of at least this many seconds.
        max_chars: a paragraph this long ends at the next sentence end (or, with no sentence end
            in sight, at twice this length); 0 for no limit.
        width: wrap lines at this many characters; 0 keeps each paragraph on one line.
    """

    extension = "txt"
    binary = False

    def __init__(
        self, *, paragraph_pause: float = 1.5, max_chars: int = 800, width: int = 0
    ) -> None:
        self.paragraph_pause = paragraph_pause
        self.max_chars = max_chars
        self.width = width

    def write(self, transcript: Transcript, fp: TextIO, /) -> None:
        blocks = []
        previous_speaker = None
        for speaker, words in self._paragraphs(transcript):
            text = " ".join(w.text for w in words)
            if speaker is not None and speaker != previous_speaker:
                text = f"{speaker}: {text}"
            previous_speaker = speaker
            if self.width > 0:
                text = textwrap.fill(text, self.width, break_long_words=False)
            blocks.append(text)
        if blocks:
            fp.write("\n\n".join(blocks) + "\n")

    def _paragraphs(self, transcript: Transcript) -> Iterator[tuple[str | None, list[Word]]]:
        """``(speaker, words)`` runs, in time order."""
        current: list[Word] = []
        length = 0
        speaker: str | None = None
        segments = sorted((s for s in transcript.segments if s.words), key=lambda s: s.start)
        for segment in segments:
            for word in segment.words:
                if current and (
                    segment.speaker != speaker
                    or word.start - current[-1].end >= self.paragraph_pause
                    or self._too_long(length, current[-1].text)
                ):
                    yield speaker, current
                    current, length = [], 0
                if not current:
                    speaker = segment.speaker
                current.append(word)
                length += len(word.text) + 1
        if current:
            yield speaker, current

    def _too_long(self, length: int, last_text: str) -> bool:
        if self.max_chars <= 0 or length < self.max_chars:
            return False
        return length >= 2 * self.max_chars or last_text.rstrip(_CLOSING).endswith(_SENTENCE_END)
