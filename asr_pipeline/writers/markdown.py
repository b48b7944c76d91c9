"""The Markdown format: a title, a metadata table, then timestamped paragraphs with speakers."""

from __future__ import annotations

import re
from typing import TextIO

from ..types import Transcript, Word
from .layout import DocumentWriter, document_title, metadata_rows, needs_review, split_punctuation

__all__ = ["MarkdownWriter", "escape_markdown"]

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")
_LINE_START = re.compile(r"^(\d+)([.)])|^([-+=])")


def escape_markdown(text: str, *, line_start: bool = True) -> str:
    """Text shown as written: Markdown's special characters escaped, and with ``line_start``
    list and heading markers at the start too.

    >>> print(escape_markdown("1. a_b *c*"))
    1\\. a\\_b \\*c\\*
    """
    escaped = _SPECIAL.sub(r"\\\1", text)
    return _escape_line_start(escaped) if line_start else escaped


def _escape_line_start(text: str) -> str:
    return _LINE_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", text)


class MarkdownWriter(DocumentWriter):
    """A Markdown document: title, metadata table, timestamped paragraphs with speakers.

    Options:
        review_below: words whose confidence is under this are set in italics (_слово_) for
            review; null for none.
    """

    extension = "md"
    binary = False

    def write(self, transcript: Transcript, fp: TextIO, /) -> None:
        parts = [f"# {escape_markdown(document_title(transcript, self.title))}"]
        rows = metadata_rows(transcript) if self.metadata else []
        if rows:
            table = ["| | |", "|---|---|"]
            table += [f"| {label} | {escape_markdown(value)} |" for label, value in rows]
            parts.append("\n".join(table))
        for block in self.blocks(transcript):
            text = " ".join(self._word(w) for w in block.words)
            if block.speaker:
                text = f"**{escape_markdown(block.speaker, line_start=False)}:** {text}"
            if block.timestamp:
                text = f"[{block.timestamp}] {text}"
            parts.append(text if block.speaker or block.timestamp else _escape_line_start(text))
        fp.write("\n\n".join(parts) + "\n")

    def _word(self, word: Word) -> str:
        if not needs_review(word, self.review_below):
            return escape_markdown(word.text, line_start=False)
        lead, core, trail = (
            escape_markdown(t, line_start=False) for t in split_punctuation(word.text)
        )
        return f"{lead}_{core}_{trail}"
