"""The RTTM format (NIST Rich Transcription Time Marked): who spoke when, for DER scoring.

One ``SPEAKER`` line per speaker turn: ``SPEAKER <file> <channel> <start> <duration> <NA> <NA>
<speaker> <NA> <NA>``. Fields cannot hold spaces, so spaces in the file id and speaker names
become ``_`` (``Спикер 1`` -> ``Спикер_1``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from ..types import Segment, Transcript

__all__ = ["RttmWriter", "rttm_field"]


def rttm_field(text: str) -> str:
    """``text`` with every run of whitespace replaced by ``_``.

    >>> rttm_field("Спикер 1")
    'Спикер_1'
    """
    return "_".join(text.split()) or "_"


class RttmWriter:
    """Speaker turns as NIST RTTM (one SPEAKER line per turn), for DER scoring.

    Options:
        merge_pause_s: segments of one speaker separated by at most this pause form one turn.
        file_id: the file id column (default: the source's file name without extension).
    """

    extension = "rttm"
    binary = False

    def __init__(self, *, merge_pause_s: float = 1.0, file_id: str | None = None) -> None:
        self.merge_pause_s = merge_pause_s
        self.file_id = file_id

    def write(self, transcript: Transcript, fp: TextIO, /) -> None:
        file_id = self.file_id or (Path(transcript.source).stem if transcript.source else "audio")
        for channel, speaker, start, end in self.turns(transcript):
            fp.write(
                f"SPEAKER {rttm_field(file_id)} {channel} {start:.3f} {end - start:.3f} "
                f"<NA> <NA> {rttm_field(speaker)} <NA> <NA>\n"
            )

    def turns(self, transcript: Transcript) -> list[tuple[int, str, float, float]]:
        """``(channel, speaker, start, end)`` per turn, in time order. Spans come from the
        words where the transcript has any (segments without words are then left out)."""
        timed = any(s.words for s in transcript.segments)
        spans = sorted(
            (_span(s, timed) for s in transcript.segments if s.words or not timed),
            key=lambda t: (t[2], t[0]),
        )
        turns: list[tuple[int, str, float, float]] = []
        latest: dict[int, int] = {}  # channel -> index of its latest turn
        for channel, speaker, start, end in spans:
            index = latest.get(channel)
            if index is not None:
                _, previous, first, last = turns[index]
                if previous == speaker and start - last <= self.merge_pause_s:
                    turns[index] = (channel, speaker, first, max(last, end))
                    continue
            latest[channel] = len(turns)
            turns.append((channel, speaker, start, end))
        return turns


def _span(segment: Segment, timed: bool) -> tuple[int, str, float, float]:
    channel = 1 if segment.channel is None else segment.channel + 1
    speaker = segment.speaker or "unknown"
    if timed:
        return channel, speaker, segment.words[0].start, segment.words[-1].end
    return channel, speaker, segment.start, segment.end
