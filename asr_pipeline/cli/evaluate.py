"""``asr-pipeline eval``: WER and CER of a pipeline, or of saved transcripts, on a manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..evaluate import (
    DEFAULT_COLLAR,
    Entry,
    EvalReport,
    ManifestError,
    Normalization,
    Totals,
    alignments_text,
    check_audio,
    check_references,
    read_hypotheses,
    read_manifest,
    recognise,
    require_jiwer,
    score_hypotheses,
    score_recognised,
    write_report,
)
from ..executors import Executor, Job
from .execution import (
    AddressOption,
    CpusOption,
    ExecutorOption,
    GpusOption,
    WorkersOption,
    executor_from_options,
)
from .options import (
    ConfigOption,
    DeviceOption,
    InputError,
    ModelOption,
    SetOption,
    StagesOption,
    VerboseOption,
    VocabularyOption,
    pipeline_config,
    reporting_errors,
    say,
)

__all__ = ["evaluate", "print_report"]

SCORING = "Scoring"


def evaluate(
    manifest: Annotated[
        Path,
        typer.Argument(
            metavar="MANIFEST",
            help="TSV with a header line (audio, text, optional id and tag columns) or JSONL "
            "with the same keys; audio paths relative to the manifest's folder.",
            show_default=False,
        ),
    ],
    hyp: Annotated[
        Path | None,
        typer.Option(
            "--hyp",
            metavar="HYP",
            help="Score saved transcripts instead of recognising: a JSONL file of "
            '{"audio", "text"} lines or a folder of JSON transcripts (<audio stem>.json).',
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="REPORT.json",
            help="Write the JSON report here, with .csv, .alignments.txt (and, when "
            "recognising, .hyp.jsonl) beside it.",
        ),
    ] = None,
    worst: Annotated[
        int,
        typer.Option(
            "--worst", min=0, metavar="N", help="Files shown in the table and as alignments."
        ),
    ] = 10,
    no_lowercase: Annotated[
        bool,
        typer.Option("--no-lowercase", help="Keep case differences.", rich_help_panel=SCORING),
    ] = False,
    keep_yo: Annotated[
        bool, typer.Option("--keep-yo", help="Keep ё apart from е.", rich_help_panel=SCORING)
    ] = False,
    keep_punctuation: Annotated[
        bool,
        typer.Option(
            "--keep-punctuation", help="Score punctuation marks too.", rich_help_panel=SCORING
        ),
    ] = False,
    no_numbers: Annotated[
        bool,
        typer.Option(
            "--no-numbers",
            help="Do not bring numbers to one form (двенадцать and 12 then differ).",
            rich_help_panel=SCORING,
        ),
    ] = False,
    collar: Annotated[
        float,
        typer.Option(
            "--collar",
            min=0.0,
            metavar="SECONDS",
            help="DER/JER (manifest column rttm): seconds forgiven on each side of every "
            "reference speaker boundary.",
            rich_help_panel=SCORING,
        ),
    ] = DEFAULT_COLLAR,
    config: ConfigOption = None,
    set_: SetOption = None,
    stages: StagesOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    vocabulary: VocabularyOption = None,
    executor: ExecutorOption = "local",
    ray_address: AddressOption = None,
    workers: WorkersOption = None,
    cpus_per_worker: CpusOption = None,
    gpus_per_worker: GpusOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Measure word and character error rates on your own audio.

    Recognises each file of MANIFEST (or reads --hyp) and compares it with its reference.

    Both sides are normalised alike: lower case, ё as е, no punctuation, numbers as digits.

    A manifest column rttm (reference speaker turns) adds DER and JER.

    Prints the worst files and their alignments; -o writes the full report.

    A file that fails is listed and the rest are scored (exit status 1).
    """
    normalization = Normalization(
        lowercase=not no_lowercase,
        yo=not keep_yo,
        punctuation=not keep_punctuation,
        numbers=not no_numbers,
    )
    pipeline_options = (config, set_, stages, model, device, vocabulary)
    with reporting_errors(verbose):
        runner = executor_from_options(
            executor, ray_address, workers, cpus_per_worker, gpus_per_worker
        )
        require_jiwer()
        try:
            entries = read_manifest(manifest)
            check_references(entries, normalization)
            info: dict[str, object] = {"manifest": str(manifest)}
            if hyp is not None:
                if any(o is not None for o in pipeline_options) or executor != "local":
                    raise InputError(
                        "--hyp scores saved transcripts: pipeline and execution options "
                        "(-c, --set, --stages, --model, --device, --vocabulary, --executor) "
                        "do not apply"
                    )
                found = read_hypotheses(hyp, entries)
                if found.turns is None and any(e.rttm for e in entries):
                    say(
                        "note: JSONL hypotheses have no times; DER needs a folder of JSON "
                        "transcripts"
                    )
                if found.unmatched:
                    say(f"note: {len(found.unmatched)} line(s) of {hyp} match no manifest entry")
                info["hypotheses"] = str(hyp)
                report = score_hypotheses(entries, found, normalization, info=info, collar=collar)
            else:
                report = _recognise(
                    entries, normalization, pipeline_options, runner, info, verbose, collar
                )
        except ManifestError as e:
            raise InputError(str(e)) from None
        written = write_report(report, output, hypotheses=hyp is None) if output else []
    print_report(report, worst)
    for path in written:
        say(f"wrote {path}")
    if report.failed:
        say(f"failed {len(report.failed)} (not scored):")
        for failure in report.failed:
            say(f"  {failure.message}")
        raise typer.Exit(1)


def _recognise(
    entries: list[Entry],
    normalization: Normalization,
    pipeline_options: tuple,
    executor: Executor,
    info: dict[str, object],
    verbose: bool,
    collar: float = DEFAULT_COLLAR,
) -> EvalReport:
    """Check the audio and options, recognise every entry on ``executor``, score."""
    check_audio(entries)
    config = pipeline_config(*pipeline_options)
    found = recognise(entries, executor, Job(config=config, verbose=verbose))
    info |= {"load_s": found.load_s, "config_hash": config.hash, "stages": list(config.pipeline)}
    return score_recognised(entries, found, normalization, info=info, collar=collar)


# ---------------------------------------------------------------- terminal


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f}"


def print_report(report: EvalReport, worst: int = 10) -> None:
    """The worst files, the figures per tag, the overall line and the worst alignments."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=False)
    tags = report.tag_names
    timed = report.overall.rtf is not None
    if worst and report.files:
        shown = report.files[:worst]
        table = Table(
            title=f"Worst {len(shown)} of {len(report.files)} files", title_justify="left"
        )
        for name in ("file", "WER %", "CER %", "S", "D", "I", "words"):
            table.add_column(name, justify="left" if name == "file" else "right")
        if timed:
            table.add_column("RTF", justify="right")
        for tag in tags:
            table.add_column(tag)
        for f in shown:
            counts = f.words
            row = [
                f.entry.id,
                _percent(f.wer),
                _percent(f.cer),
                str(counts.substitutions),
                str(counts.deletions),
                str(counts.insertions),
                str(counts.reference_length),
            ]
            if timed:
                row.append("" if f.rtf is None else f"{f.rtf:.3f}")
            table.add_row(*row, *(f.entry.tags.get(tag, "") for tag in tags))
        console.print(table)
    by_tag = report.by_tag()
    if by_tag:
        table = Table(title="By tag", title_justify="left")
        speakers = report.overall.speakers is not None
        names = ["tag", "value", "files", "words", "WER %", "CER %"]
        for name in names + (["DER %", "JER %"] if speakers else []):
            table.add_column(name, justify="right" if name not in ("tag", "value") else "left")
        for tag, values in by_tag.items():
            for value, totals in values.items():
                table.add_row(tag, value, *_totals_cells(totals, speakers))
        console.print(table)
    console.print(_overall_line(report), markup=False)
    if worst:
        text = alignments_text(report, worst)
        if text:
            console.rule("Alignments of the worst files")
            console.print(text, markup=False)


def _totals_cells(totals: Totals, speakers: bool = False) -> list[str]:
    cells = [
        str(totals.files),
        str(totals.words.reference_length),
        _percent(totals.wer),
        _percent(totals.cer),
    ]
    if speakers:
        found = totals.speakers
        cells += ["", ""] if found is None else [_percent(found.der), _percent(found.jer)]
    return cells


def _overall_line(report: EvalReport) -> str:
    overall = report.overall
    words = overall.words
    if not overall.files:
        return f"no file scored, {len(report.failed)} failed"
    parts = [
        f"WER {_percent(overall.wer)} % (S {words.substitutions}, D {words.deletions}, "
        f"I {words.insertions} over {words.reference_length} words)",
        f"CER {_percent(overall.cer)} %",
    ]
    if overall.speakers is not None:
        parts.append(
            f"DER {_percent(overall.speakers.der)} % (confusion "
            f"{overall.speakers.confusion_s:.1f} s, missed {overall.speakers.missed_s:.1f} s, "
            f"false alarm {overall.speakers.false_alarm_s:.1f} s over "
            f"{overall.speakers.reference_s:.1f} s), JER {_percent(overall.speakers.jer)} %"
        )
    parts += [
        f"{overall.files} file{'' if overall.files == 1 else 's'}",
    ]
    if overall.rtf is not None and overall.audio_s is not None:
        parts.append(
            f"{overall.audio_s:.1f} s of audio in {overall.processing_s:.1f} s, "
            f"RTF {overall.rtf:.3f}"
        )
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    return " · ".join(parts)
