"""The plain-text format: paragraphs with timestamps and speaker turns."""

from __future__ import annotations

import textwrap
from typing import Annotated, TextIO

from ..config import Range
from ..types import Transcript
from .layout import blocks

__all__ = ["TextWriter"]


class TextWriter:
    """Readable plain text: timestamped paragraphs, a speaker's name at each turn.

    Options:
        pause_s: a sentence end followed by a pause this long (seconds) ends a paragraph.
        max_chars: a paragraph this long ends at its next sentence end (or, with none in sight,
            at twice this length); 0 for no limit.
        timestamps: start each paragraph with its time, [HH:MM:SS].
        width: wrap lines at this many characters; 0 keeps each paragraph on one line.
    """

    extension = "txt"
    binary = False

    def __init__(
        self,
        *,
        pause_s: Annotated[float, Range(ge=0)] = 1.5,
        max_chars: Annotated[int, Range(ge=1)] = 800,
        timestamps: bool = True,
        width: Annotated[int, Range(ge=0)] = 0,
    ) -> None:
        self.pause_s = pause_s
        self.max_chars = max_chars
        self.timestamps = timestamps
        self.width = width

    def write(self, transcript: Transcript, fp: TextIO, /) -> None:
        texts = []
        for block in blocks(
            transcript, pause_s=self.pause_s, max_chars=self.max_chars, timestamps=self.timestamps
        ):
            text = block.paragraph.text
            if block.speaker:
                text = f"{block.speaker}: {text}"
            if block.timestamp:
                text = f"[{block.timestamp}] {text}"
            if self.width > 0:
                text = textwrap.fill(
                    text, self.width, break_long_words=False, break_on_hyphens=False
                )
            texts.append(text)
        if texts:
            fp.write("\n\n".join(texts) + "\n")
