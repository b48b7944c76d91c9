"""Annotation formats on the source's own timeline: Praat TextGrid, ELAN .eaf and NIST CTM.

TextGrid and .eaf carry two tiers, ``utterances`` (the clips ``asr-pipeline annotate`` cuts) and
``words``; with several speakers or channels, a pair per speaker (``utterances: Анна``). They are
written with the field's own libraries, praatio and pympi-ling (the ``annotate`` extra).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, TextIO

from ..errors import MissingDependencyError
from ..types import Transcript, Word

__all__ = ["CtmWriter", "EafWriter", "TextGridWriter", "tiers"]

Interval = tuple[float, float, str]
_SHORTEST_S = 0.001


def tiers(
    transcript: Transcript, *, min_duration: float = 0.0, max_duration: float = 20.0
) -> list[tuple[str, list[Interval]]]:
    """``(tier name, intervals)`` pairs: utterances then words, per speaker or channel.

    Intervals are in time order, never overlap and last at least a millisecond.
    """
    from ..annotate.clips import cut_clips

    groups: dict[tuple[str | None, int | None], list[Word]] = {}
    for segment in transcript.segments:
        groups.setdefault((segment.speaker, segment.channel), []).extend(segment.words)
    stem = Path(transcript.source or "audio").stem
    cutting = cut_clips(transcript, stem, min_duration=min_duration, max_duration=max_duration)
    result = []
    for key, words in groups.items():
        suffix = "" if len(groups) == 1 else f": {_group_name(*key)}"
        clips = [c for c in cutting.clips if (c.speaker, c.channel) == key]
        result.append((f"utterances{suffix}", _ordered((c.start, c.end, c.text) for c in clips)))
        words = sorted(words, key=lambda w: (w.start, w.end))
        result.append((f"words{suffix}", _ordered((w.start, w.end, w.text) for w in words)))
    return result


def _group_name(speaker: str | None, channel: int | None) -> str:
    return speaker or (f"channel {channel + 1}" if channel is not None else "speech")


def _ordered(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    last = 0.0
    for start, end, text in intervals:
        start = round(max(start, last), 3)
        end = round(max(end, start + _SHORTEST_S), 3)
        out.append((start, end, text))
        last = end
    return out


def _end_time(transcript: Transcript, layers: list[tuple[str, list[Interval]]]) -> float:
    ends = [i[-1][1] for _, i in layers if i]
    return round(max([transcript.duration or 0.0, *ends]), 3)


class _TierWriter:
    """What TextGrid and .eaf share: utterance and word tiers, and a dependency check.

    Options:
        min_duration: utterances shorter than this (seconds) that join no neighbour are left out
            of the utterances tier (their words stay in the words tier).
        max_duration: utterances longer than this (seconds) are split at their longest pauses.
    """

    def __init__(self, *, min_duration: float = 0.0, max_duration: float = 20.0) -> None:
        self._check_dependencies()
        self.min_duration = min_duration
        self.max_duration = max_duration

    def _check_dependencies(self) -> None:
        """Raise :class:`MissingDependencyError` when the format's library is missing."""

    def tiers(self, transcript: Transcript) -> list[tuple[str, list[Interval]]]:
        return tiers(transcript, min_duration=self.min_duration, max_duration=self.max_duration)


class TextGridWriter(_TierWriter):
    """Praat TextGrid (long format, via praatio): tiers ``utterances`` and ``words``."""

    extension = "TextGrid"
    binary = False

    def _check_dependencies(self) -> None:
        _require("praatio", "TextGrid output", "praatio")

    def write(self, transcript: Transcript, fp: TextIO, /) -> None:
        from praatio import textgrid

        layers = self.tiers(transcript)
        end = _end_time(transcript, layers)
        grid = textgrid.Textgrid(0.0, end)
        for name, intervals in layers:
            grid.addTier(textgrid.IntervalTier(name, intervals, 0.0, end))
        with tempfile.TemporaryDirectory() as folder:  # praatio saves to a path only
            path = Path(folder) / "out.TextGrid"
            grid.save(str(path), format="long_textgrid", includeBlankSpaces=True)
            fp.write(path.read_text(encoding="utf-8"))


class EafWriter(_TierWriter):
    """ELAN annotation file (.eaf, via pympi-ling): tiers ``utterances`` and ``words``.

    The file links the source audio, so ELAN opens both.
    """

    extension = "eaf"
    binary = True

    def _check_dependencies(self) -> None:
        _require("pympi", "ELAN output", "pympi-ling")

    def write(self, transcript: Transcript, fp: BinaryIO, /) -> None:
        from xml.etree import ElementTree

        from pympi import Elan

        eaf = Elan.Eaf(author="asr-pipeline")
        if transcript.source:
            eaf.add_linked_file(Path(transcript.source).resolve().as_uri(), mimetype="audio/x-wav")
        for name, intervals in self.tiers(transcript):
            eaf.add_tier(name)
            for start, end, text in intervals:
                eaf.add_annotation(name, round(start * 1000), round(end * 1000), text)
        eaf.remove_tier("default")
        document = ElementTree.ElementTree(Elan.to_adocument(eaf, True))
        document.write(fp, xml_declaration=True, encoding="UTF-8")


class CtmWriter:
    """NIST CTM: one line per word with its time and confidence.

    Lines read ``<source stem> <channel> <start> <duration> <word> <confidence>``; the
    confidence is left out for words without one.

    Options:
        confidence: write the confidence column (off: five columns on every line).
    """

    extension = "ctm"
    binary = False

    def __init__(self, *, confidence: bool = True) -> None:
        self.confidence = confidence

    def write(self, transcript: Transcript, fp: TextIO, /) -> None:
        stem = Path(transcript.source or "audio").stem.replace(" ", "_")
        lines = []
        for segment in transcript.segments:
            channel = 1 if segment.channel is None else segment.channel + 1
            for word in segment.words:
                text = "_".join(word.text.split())
                if not text:
                    continue
                fields = [stem, str(channel), f"{word.start:.3f}", f"{word.end - word.start:.3f}"]
                fields.append(text)
                if self.confidence and word.score is not None:
                    fields.append(f"{word.score:.3f}")
                lines.append((word.start, channel, " ".join(fields)))
        fp.writelines(f"{line}\n" for _, _, line in sorted(lines, key=lambda x: x[:2]))


def _require(module: str, feature: str, package: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(feature, "annotate", package)
