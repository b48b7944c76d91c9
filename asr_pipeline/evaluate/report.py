"""Report files: ``report.json`` and, beside it, ``.csv``, ``.alignments.txt``, ``.hyp.jsonl``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ..io import atomic_write
from .score import EvalReport, FileScore

__all__ = ["alignments_text", "report_paths", "write_report"]

CSV_COLUMNS = (
    "id",
    "audio",
    "wer",
    "cer",
    "substitutions",
    "deletions",
    "insertions",
    "hits",
    "reference_words",
    "audio_s",
    "processing_s",
    "rtf",
)


def report_paths(path: str | Path) -> dict[str, Path]:
    """Where each file of a report goes: the JSON at ``path``, the others beside it."""
    path = Path(path)
    return {
        "json": path,
        "csv": path.with_suffix(".csv"),
        "alignments": path.with_suffix(".alignments.txt"),
        "hypotheses": path.with_suffix(".hyp.jsonl"),
    }


def write_report(report: EvalReport, path: str | Path, *, hypotheses: bool = False) -> list[Path]:
    """Write the JSON report at ``path`` and the CSV and alignments beside it; with
    ``hypotheses``, also every hypothesis as JSONL (``--hyp`` reads it back). Returns the paths."""
    paths = report_paths(path)
    paths["json"].parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(paths["json"]) as fp:
        json.dump(report.to_dict(), fp, ensure_ascii=False, indent=2)
        fp.write("\n")
    _write_csv(report, paths["csv"])
    with atomic_write(paths["alignments"]) as fp:
        fp.write(alignments_text(report))
    written = [paths["json"], paths["csv"], paths["alignments"]]
    if hypotheses:
        with atomic_write(paths["hypotheses"]) as fp:
            for f in sorted(report.files, key=lambda f: f.entry.line):
                row = {"id": f.entry.id, "audio": f.entry.audio, "text": f.hypothesis}
                fp.write(json.dumps(row, ensure_ascii=False) + "\n")
        written.append(paths["hypotheses"])
    return written


def _write_csv(report: EvalReport, path: Path) -> None:
    tags = report.tag_names + [
        t for x in report.failed for t in x.entry.tags if t not in report.tag_names
    ]
    columns = [*CSV_COLUMNS, *dict.fromkeys(tags), "reference", "hypothesis", "error"]
    with atomic_write(path) as fp:
        writer = csv.DictWriter(fp, columns, lineterminator="\n")
        writer.writeheader()
        for f in report.files:
            writer.writerow(_csv_row(f))
        for x in report.failed:
            writer.writerow(
                {
                    "id": x.entry.id,
                    "audio": x.entry.audio,
                    **x.entry.tags,
                    "reference": x.entry.text,
                    "error": x.message,
                }
            )


def _csv_row(f: FileScore) -> dict[str, object]:
    return {
        "id": f.entry.id,
        "audio": f.entry.audio,
        "wer": round(f.wer, 6),
        "cer": round(f.cer, 6),
        "substitutions": f.words.substitutions,
        "deletions": f.words.deletions,
        "insertions": f.words.insertions,
        "hits": f.words.hits,
        "reference_words": f.words.reference_length,
        "audio_s": _round(f.audio_s),
        "processing_s": _round(f.processing_s),
        "rtf": _round(f.rtf),
        **f.entry.tags,
        "reference": f.reference_normalized,
        "hypothesis": f.hypothesis_normalized,
    }


def _round(value: float | None) -> float | str:
    return "" if value is None else round(value, 4)


def alignments_text(report: EvalReport, limit: int | None = None) -> str:
    """jiwer's alignment view of the files with errors, worst first (``limit`` of them)."""
    worst = [f for f in report.files if f.alignment][:limit]
    blocks = [
        f"=== {f.entry.id}: WER {f.wer * 100:.1f} %, CER {f.cer * 100:.1f} % "
        f"(S {f.words.substitutions}, D {f.words.deletions}, I {f.words.insertions}) ===\n"
        f"{f.alignment}\n"
        for f in worst
    ]
    return "\n".join(blocks)
