"""WER and CER with jiwer (DER and JER where the manifest has RTTM references): per file,
overall (micro-averaged) and per tag value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import MissingDependencyError
from .manifest import Entry, ManifestError
from .normalize import Normalization
from .speakers import DEFAULT_COLLAR, SpeakerCounts, check_rttm, read_rttm, speaker_counts

__all__ = [
    "Counts",
    "EvalReport",
    "Failure",
    "FileScore",
    "Totals",
    "check_references",
    "require_jiwer",
    "score",
    "score_file",
]


INFO_KEYS = ("manifest", "hypotheses", "model", "revision", "config_hash", "stages", "load_s")
"""What produced the hypotheses: keys every JSON report has (null when unknown)."""


@dataclass(frozen=True)
class Counts:
    """Edit operations between a reference and a hypothesis (words or characters)."""

    hits: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0

    @property
    def reference_length(self) -> int:
        return self.hits + self.substitutions + self.deletions

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Errors over reference length (WER for words, CER for characters)."""
        return self.errors / self.reference_length if self.reference_length else 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.hits + other.hits,
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
        )


class _Rates:
    """WER, CER and RTF of word and character counts and timings."""

    words: Counts
    chars: Counts
    audio_s: float | None
    processing_s: float | None

    @property
    def wer(self) -> float:
        return self.words.rate

    @property
    def cer(self) -> float:
        return self.chars.rate

    @property
    def rtf(self) -> float | None:
        """Processing seconds per second of audio (0.1: ten times faster than real time)."""
        if self.processing_s is None or not self.audio_s:
            return None
        return self.processing_s / self.audio_s


@dataclass(frozen=True)
class FileScore(_Rates):
    """One manifest entry scored: the texts, the counts, timings and the alignment view."""

    entry: Entry
    hypothesis: str
    reference_normalized: str
    hypothesis_normalized: str
    words: Counts
    chars: Counts
    alignment: str = ""
    """jiwer's word alignment view (REF/HYP lines with S, D, I marks)."""
    audio_s: float | None = None
    processing_s: float | None = None
    speakers: SpeakerCounts | None = None
    """Diarization errors, for an entry with a reference RTTM."""


@dataclass(frozen=True)
class Failure:
    """An entry that could not be scored (recognition failed, no hypothesis)."""

    entry: Entry
    message: str


@dataclass(frozen=True)
class Totals(_Rates):
    """Counts summed over files: micro-averaged WER and CER."""

    files: int = 0
    words: Counts = Counts()
    chars: Counts = Counts()
    audio_s: float | None = None
    processing_s: float | None = None
    speakers: SpeakerCounts | None = None
    """Diarization errors summed over the files with a reference RTTM (None: no such file)."""

    @classmethod
    def of(cls, files: Sequence[FileScore]) -> Totals:
        words, chars = Counts(), Counts()
        speakers: SpeakerCounts | None = None
        for f in files:
            words, chars = words + f.words, chars + f.chars
            if f.speakers is not None:
                speakers = f.speakers if speakers is None else speakers + f.speakers
        timed = [f for f in files if f.audio_s is not None and f.processing_s is not None]
        audio = sum(f.audio_s or 0.0 for f in timed) if timed else None
        processing = sum(f.processing_s or 0.0 for f in timed) if timed else None
        return cls(len(files), words, chars, audio, processing, speakers)

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain data; ``wer`` and ``cer`` are null when no file was scored."""
        return {
            "wer": self.wer if self.files else None,
            "cer": self.cer if self.files else None,
            "files": self.files,
            "reference_words": self.words.reference_length,
            "substitutions": self.words.substitutions,
            "deletions": self.words.deletions,
            "insertions": self.words.insertions,
            "hits": self.words.hits,
            "reference_chars": self.chars.reference_length,
            "char_errors": self.chars.errors,
            "audio_s": self.audio_s,
            "processing_s": self.processing_s,
            "rtf": self.rtf,
            **_speaker_dict(self.speakers),
        }


@dataclass
class EvalReport:
    """Every scored file (worst first), the failures, and what produced the hypotheses."""

    files: list[FileScore]
    failed: list[Failure] = field(default_factory=list)
    normalization: Normalization = field(default_factory=Normalization)
    info: dict[str, Any] = field(default_factory=dict)
    """manifest, hypotheses source, model, revision, config_hash, stages, load_s ..."""

    @property
    def overall(self) -> Totals:
        return Totals.of(self.files)

    @property
    def wer(self) -> float:
        return self.overall.wer

    @property
    def cer(self) -> float:
        return self.overall.cer

    @property
    def tag_names(self) -> list[str]:
        names: dict[str, None] = {}
        for f in self.files:
            names.update(dict.fromkeys(f.entry.tags))
        return list(names)

    def by_tag(self) -> dict[str, dict[str, Totals]]:
        """``{tag: {value: totals}}`` for every tag column, values sorted."""
        groups: dict[str, dict[str, list[FileScore]]] = {}
        for f in self.files:
            for tag, value in f.entry.tags.items():
                groups.setdefault(tag, {}).setdefault(value, []).append(f)
        return {
            tag: {value: Totals.of(groups[tag][value]) for value in sorted(groups[tag])}
            for tag in self.tag_names
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: overall figures at the top level, then tags, files, failures."""
        return {
            **self.overall.to_dict(),
            "failed_files": len(self.failed),
            **dict.fromkeys(INFO_KEYS),
            **self.info,
            "normalization": self.normalization.to_dict(),
            "tags": {
                tag: {value: totals.to_dict() for value, totals in values.items()}
                for tag, values in self.by_tag().items()
            },
            "per_file": [_file_dict(f) for f in self.files],
            "failed": [
                {"id": x.entry.id, "audio": x.entry.audio, "line": x.entry.line, "error": x.message}
                for x in self.failed
            ],
        }


def _file_dict(f: FileScore) -> dict[str, Any]:
    return {
        "id": f.entry.id,
        "audio": f.entry.audio,
        "line": f.entry.line,
        "tags": dict(f.entry.tags),
        "wer": f.wer,
        "cer": f.cer,
        "reference_words": f.words.reference_length,
        "substitutions": f.words.substitutions,
        "deletions": f.words.deletions,
        "insertions": f.words.insertions,
        "hits": f.words.hits,
        "reference_chars": f.chars.reference_length,
        "char_errors": f.chars.errors,
        "audio_s": f.audio_s,
        "processing_s": f.processing_s,
        "rtf": f.rtf,
        **_speaker_dict(f.speakers),
        "reference": f.entry.text,
        "hypothesis": f.hypothesis,
        "reference_normalized": f.reference_normalized,
        "hypothesis_normalized": f.hypothesis_normalized,
    }


def _speaker_dict(speakers: SpeakerCounts | None) -> dict[str, Any]:
    """DER/JER keys, only where a reference RTTM was scored."""
    return {} if speakers is None else speakers.to_dict()


def require_jiwer() -> Any:
    """The jiwer module; raises :class:`MissingDependencyError` naming the extra without it."""
    try:
        import jiwer
    except ImportError as e:
        raise MissingDependencyError("scoring (eval)", "eval", "jiwer") from e
    return jiwer


def check_references(entries: Sequence[Entry], normalization: Normalization) -> None:
    """Raise :class:`ManifestError` for the first reference that normalises to nothing, or
    the first reference RTTM that is missing or malformed."""
    for entry in entries:
        if not normalization(entry.text):
            raise _empty_reference(entry)
    check_rttm(entries)


def _empty_reference(entry: Entry) -> ManifestError:
    return ManifestError(
        f"{entry.where}: the reference for '{entry.audio}' is empty once normalised "
        f"({entry.text!r}); give it words or remove the line"
    )


def score_file(
    entry: Entry,
    hypothesis: str,
    normalization: Normalization | None = None,
    *,
    audio_s: float | None = None,
    processing_s: float | None = None,
) -> FileScore:
    """Score one hypothesis against its entry's reference, both normalised alike.

    Raises :class:`ManifestError` when the reference is empty once normalised.
    """
    normalization = normalization or Normalization()
    jiwer = require_jiwer()
    reference = normalization(entry.text)
    if not reference:
        raise _empty_reference(entry)
    hyp = normalization(hypothesis)
    words = jiwer.process_words(reference, hyp)
    chars = jiwer.process_characters(reference, hyp)
    alignment = ""
    if words.substitutions + words.deletions + words.insertions:
        try:
            view = jiwer.visualize_alignment(words, show_measures=False, line_width=100)
        except TypeError:  # jiwer 3 cannot wrap long lines
            view = jiwer.visualize_alignment(words, show_measures=False)
        alignment = "\n".join(line for line in view.splitlines() if not line.startswith("==="))
    return FileScore(
        entry,
        hypothesis,
        reference,
        hyp,
        Counts(words.hits, words.substitutions, words.deletions, words.insertions),
        Counts(chars.hits, chars.substitutions, chars.deletions, chars.insertions),
        alignment.strip("\n"),
        audio_s,
        processing_s,
    )


def score(
    entries: Sequence[Entry],
    hypotheses: Mapping[str, str],
    normalization: Normalization | None = None,
    *,
    failures: Mapping[str, str] | None = None,
    timings: Mapping[str, tuple[float, float]] | None = None,
    info: Mapping[str, Any] | None = None,
    turns: Mapping[str, Sequence[tuple[str, float, float]]] | None = None,
    collar: float = DEFAULT_COLLAR,
) -> EvalReport:
    """Score every entry that has a hypothesis (by entry id) into a report, worst first.

    ``failures`` maps entry ids to why they have no hypothesis; ``timings`` maps ids to
    ``(audio seconds, processing seconds)``. An entry with neither is a failure too.
    ``turns`` maps ids to hypothesis speaker turns ``(speaker, start, end)``: an entry with a
    reference RTTM gets DER and JER (``collar`` seconds forgiven on each side of reference
    boundaries); ``turns=None`` (texts without times) scores no DER.
    """
    normalization = normalization or Normalization()
    failures = dict(failures or {})
    timings = timings or {}
    files, failed = [], []
    for entry in entries:
        if entry.id in hypotheses:
            audio_s, processing_s = timings.get(entry.id, (None, None))
            files.append(
                score_file(
                    entry,
                    hypotheses[entry.id],
                    normalization,
                    audio_s=audio_s,
                    processing_s=processing_s,
                )
            )
            if entry.rttm is not None and turns is not None:
                reference = read_rttm(entry.rttm, entry.where)
                found = speaker_counts(reference, turns.get(entry.id, ()), collar)
                files[-1] = replace(files[-1], speakers=found)
        else:
            failed.append(Failure(entry, failures.get(entry.id, f"{entry.audio}: no hypothesis")))
    files.sort(key=lambda f: (-f.wer, -f.words.errors, -f.cer, f.entry.line))
    return EvalReport(files, failed, normalization, dict(info or {}))
