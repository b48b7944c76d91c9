"""The JSON format: the complete transcript, loadable again with ``Transcript.from_json``."""

from __future__ import annotations

from typing import TextIO

from ..types import Transcript

__all__ = ["JsonWriter"]


class JsonWriter:
    """The whole transcript as JSON: segments, timed words, scores, speakers and metadata.

    Options:
        indent: spaces per indentation level; 0 writes everything on one line.
    """

    extension = "json"
    binary = False

    def __init__(self, *, indent: int = 2) -> None:
        self.indent = indent

    def write(self, transcript: Transcript, fp: TextIO, /) -> None:
        fp.write(transcript.to_json(indent=self.indent or None))
        fp.write("\n")
