"""Word and character error rates of a pipeline (or of saved transcripts) on a manifest.

>>> from asr_pipeline import Pipeline
>>> from asr_pipeline.evaluate import evaluate, write_report
>>> report = evaluate("eval/manifest.tsv", Pipeline.default())       # doctest: +SKIP
>>> report.wer, report.cer                                            # doctest: +SKIP
(0.183, 0.061)
>>> write_report(report, "eval/report.json")                          # doctest: +SKIP

Saved hypotheses score without recognising: ``evaluate(manifest, hypotheses="hyp.jsonl")``.
jiwer (the ``eval`` extra) does the alignment and counting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .manifest import (
    Entry,
    Hypotheses,
    ManifestError,
    check_audio,
    read_audio_list,
    read_hypotheses,
    read_manifest,
)
from .normalize import Normalization
from .recognize import Recognised, read_span, recognise
from .report import alignments_text, report_paths, write_report
from .score import (
    Counts,
    EvalReport,
    Failure,
    FileScore,
    Totals,
    check_references,
    require_jiwer,
    score,
    score_file,
)
from .speakers import DEFAULT_COLLAR, SpeakerCounts, read_rttm, speaker_counts

if TYPE_CHECKING:
    from ..pipeline import Pipeline

__all__ = [
    "DEFAULT_COLLAR",
    "Counts",
    "Entry",
    "EvalReport",
    "Failure",
    "FileScore",
    "Hypotheses",
    "ManifestError",
    "Normalization",
    "Recognised",
    "SpeakerCounts",
    "Totals",
    "alignments_text",
    "check_audio",
    "check_references",
    "evaluate",
    "read_audio_list",
    "read_hypotheses",
    "read_manifest",
    "read_rttm",
    "read_span",
    "report_paths",
    "require_jiwer",
    "recognise",
    "score",
    "score_file",
    "score_hypotheses",
    "score_recognised",
    "speaker_counts",
    "write_report",
]


def evaluate(
    manifest: str | Path,
    pipeline: Pipeline | None = None,
    *,
    hypotheses: str | Path | None = None,
    normalization: Normalization | None = None,
    collar: float = DEFAULT_COLLAR,
) -> EvalReport:
    """Score ``pipeline`` on a manifest's audio, or saved ``hypotheses`` against its texts.

    Every input is checked (manifest lines, references, audio files) before anything runs; a
    file that fails to recognise is listed in ``report.failed`` and the rest are scored.
    Entries with an ``rttm`` reference also get DER and JER (``collar`` seconds each side).
    """
    if (pipeline is None) == (hypotheses is None):
        raise ValueError("give either a pipeline or hypotheses")
    require_jiwer()
    normalization = normalization or Normalization()
    entries = read_manifest(manifest)
    check_references(entries, normalization)
    info: dict[str, object] = {"manifest": str(manifest)}
    if hypotheses is not None:
        info["hypotheses"] = str(hypotheses)
        found = read_hypotheses(hypotheses, entries)
        return score_hypotheses(entries, found, normalization, info=info, collar=collar)
    check_audio(entries)
    from ..executors import Job, LocalExecutor

    recognised = recognise(entries, LocalExecutor(), Job(process=pipeline), progress=False)
    if not recognised.metadata:
        info["config_hash"] = pipeline.config.hash
    return score_recognised(entries, recognised, normalization, info=info, collar=collar)


def score_hypotheses(
    entries: Sequence[Entry],
    found: Hypotheses,
    normalization: Normalization,
    *,
    info: Mapping[str, object],
    collar: float = DEFAULT_COLLAR,
) -> EvalReport:
    """Score hypotheses from :func:`read_hypotheses`; their transcripts' metadata joins
    ``info``."""
    return score(
        entries,
        found.texts,
        normalization,
        failures=found.missing,
        info={**info, **found.metadata},
        turns=found.turns,
        collar=collar,
    )


def score_recognised(
    entries: Sequence[Entry],
    found: Recognised,
    normalization: Normalization,
    *,
    info: Mapping[str, object],
    collar: float = DEFAULT_COLLAR,
) -> EvalReport:
    """Score what :func:`recognise` returned; the transcripts' metadata joins ``info``."""
    return score(
        entries,
        found.texts,
        normalization,
        failures=found.failures,
        timings=found.timings,
        info={**info, **found.metadata},
        turns=found.turns,
        collar=collar,
    )
