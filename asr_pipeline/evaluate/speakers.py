"""Diarization error rate (DER) and Jaccard error rate (JER) against reference RTTM files.

pyannote.metrics (the ``diarize`` extra) does the optimal speaker mapping and the counting. The
forgiveness collar is given per side of each reference boundary (0.25 s: 0.5 s in all, which is
what pyannote.metrics calls ``collar``). Components are kept per file, so overall and per-tag
figures are sums of seconds, not averages of rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError
from ..types import Transcript
from .manifest import Entry, ManifestError

__all__ = [
    "DEFAULT_COLLAR",
    "speaker_turns",
    "SpeakerCounts",
    "check_rttm",
    "read_rttm",
    "require_pyannote_metrics",
    "speaker_counts",
]

DEFAULT_COLLAR = 0.25
"""Seconds forgiven on each side of every reference speaker boundary."""

Turn = tuple[str, float, float]
"""``(speaker, start, end)``."""


@dataclass(frozen=True)
class SpeakerCounts:
    """Seconds of diarization errors of one file (or summed over files)."""

    reference_s: float = 0.0
    confusion_s: float = 0.0
    missed_s: float = 0.0
    false_alarm_s: float = 0.0
    jaccard_errors: float = 0.0
    """Sum over reference speakers of each one's Jaccard error (0..1)."""
    reference_speakers: int = 0

    @property
    def der(self) -> float:
        errors = self.confusion_s + self.missed_s + self.false_alarm_s
        return errors / self.reference_s if self.reference_s else 0.0

    @property
    def jer(self) -> float:
        return self.jaccard_errors / self.reference_speakers if self.reference_speakers else 0.0

    def __add__(self, other: SpeakerCounts) -> SpeakerCounts:
        return SpeakerCounts(
            self.reference_s + other.reference_s,
            self.confusion_s + other.confusion_s,
            self.missed_s + other.missed_s,
            self.false_alarm_s + other.false_alarm_s,
            self.jaccard_errors + other.jaccard_errors,
            self.reference_speakers + other.reference_speakers,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "der": self.der,
            "jer": self.jer,
            "speech_s": self.reference_s,
            "confusion_s": self.confusion_s,
            "missed_s": self.missed_s,
            "false_alarm_s": self.false_alarm_s,
        }


def speaker_turns(transcript: Transcript) -> list[Turn]:
    """A transcript's speaker turns as the ``rttm`` writer writes them."""
    from ..writers.rttm import RttmWriter

    return [(speaker, start, end) for _, speaker, start, end in RttmWriter().turns(transcript)]


def require_pyannote_metrics() -> Any:
    """pyannote.metrics' diarization module, or an error naming the extra."""
    try:
        from pyannote.metrics import diarization
    except ImportError as e:
        raise MissingDependencyError(
            "DER scoring (an 'rttm' manifest column)", "diarize", "pyannote.metrics"
        ) from e
    return diarization


def read_rttm(path: Path, where: str = "") -> list[Turn]:
    """The ``SPEAKER`` lines of an RTTM file as ``(speaker, start, end)``; other line types
    are skipped. Raises :class:`ManifestError` naming the file and line."""
    prefix = f"{where}: " if where else ""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ManifestError(
            f"{prefix}reference RTTM not found: {path} (paths are relative to the manifest's "
            "folder)"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"{prefix}cannot read the reference RTTM {path} ({e})") from None
    turns: list[Turn] = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] != "SPEAKER":
            continue
        try:
            if len(fields) < 8:
                raise ValueError("fewer than 8 fields")
            start, duration = float(fields[3]), float(fields[4])
            if start < 0 or duration < 0:
                raise ValueError("negative time")
        except ValueError as e:
            raise ManifestError(
                f"{path}: line {number}: not an RTTM SPEAKER line ({e}): expected 'SPEAKER "
                "<file> <channel> <start> <duration> <NA> <NA> <speaker> <NA> <NA>'"
            ) from None
        turns.append((fields[7], start, start + duration))
    return turns


def check_rttm(entries: Sequence[Entry]) -> None:
    """Read every entry's reference RTTM (raising for a missing or malformed one) and make
    sure pyannote.metrics is there when any entry has one."""
    with_rttm = [e for e in entries if e.rttm is not None]
    if with_rttm:
        require_pyannote_metrics()
    for entry in with_rttm:
        assert entry.rttm is not None
        read_rttm(entry.rttm, entry.where)


def speaker_counts(
    reference: Iterable[Turn], hypothesis: Iterable[Turn], collar: float = DEFAULT_COLLAR
) -> SpeakerCounts:
    """DER and JER components of one file; ``collar`` is seconds on each side."""
    metrics = require_pyannote_metrics()
    from pyannote.core import Annotation, Segment, Timeline

    def annotation(turns: Iterable[Turn]) -> Annotation:
        result = Annotation()
        for i, (speaker, start, end) in enumerate(turns):
            if end > start:
                result[Segment(start, end), i] = speaker
        return result

    ref, hyp = annotation(reference), annotation(hypothesis)
    end = max([s.end for s in ref.get_timeline()] + [s.end for s in hyp.get_timeline()] + [0.0])
    uem = Timeline([Segment(0.0, end)])
    der = metrics.DiarizationErrorRate(collar=2 * collar, skip_overlap=False)
    jer = metrics.JaccardErrorRate(collar=2 * collar, skip_overlap=False)
    d = der(ref, hyp, uem=uem, detailed=True)
    j = jer(ref, hyp, uem=uem, detailed=True)
    return SpeakerCounts(
        d["total"],
        d["confusion"],
        d["missed detection"],
        d["false alarm"],
        j["speaker error"],
        int(j["speaker count"]),
    )
