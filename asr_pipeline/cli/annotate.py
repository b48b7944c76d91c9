"""``asr-pipeline annotate`` (recordings to a labelled dataset) and ``import-annotations``."""

from pathlib import Path
from typing import Annotated

import typer

from ..annotate import DATASET_FORMATS, AddToDataset, AnnotationError, Dataset, import_annotations
from ..errors import UnknownNameError
from ..executors import Job, by_duration, run_job
from ..executors.progress import format_duration
from ..registry import writers as writer_registry
from .batch import check_stems, collect_inputs, make_writers, output_paths, report
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
from .transcribe import ChannelsOption, OverwriteOption

__all__ = ["annotate", "import_annotations_command"]

DATASET = "Dataset"
TIER_FORMATS = ("textgrid", "eaf")
"""Writers whose utterance tier follows --min-duration/--max-duration."""


def annotate(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="INPUT",
            help="Audio or video files, folders (searched recursively) or glob patterns.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", metavar="DATASET", help="The dataset folder (created or added to)."
        ),
    ],
    formats: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMATS",
            help="Comma-separated: nemo (manifest.jsonl), hf (metadata.jsonl), labelstudio "
            "(tasks.json), and per source textgrid, eaf, ctm (or any transcribe format).",
            rich_help_panel=DATASET,
        ),
    ] = "nemo,hf",
    min_duration: Annotated[
        float,
        typer.Option(
            "--min-duration",
            min=0.0,
            metavar="SECONDS",
            help="Shortest clip.",
            rich_help_panel=DATASET,
        ),
    ] = 1.0,
    max_duration: Annotated[
        float,
        typer.Option(
            "--max-duration",
            min=0.0,
            metavar="SECONDS",
            help="Longest clip.",
            rich_help_panel=DATASET,
        ),
    ] = 20.0,
    min_confidence: Annotated[
        float,
        typer.Option(
            "--min-confidence",
            min=0.0,
            max=1.0,
            metavar="SCORE",
            help="Leave out clips whose confidence (their least sure word's) is under this.",
            rich_help_panel=DATASET,
        ),
    ] = 0.0,
    audio_url_prefix: Annotated[
        str,
        typer.Option(
            "--audio-url-prefix",
            metavar="URL",
            help="Label Studio tasks show the audio at URL + the source file's name.",
            rich_help_panel=DATASET,
        ),
    ] = "",
    overwrite: OverwriteOption = False,
    channels: ChannelsOption = False,
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
    """Turn recordings into a speech dataset: clips with draft labels to check and correct.

    Clips are cut at pauses between words: DATASET/audio/<stem>_<nnnnn>.wav, 16 kHz mono.

    A failed file does not stop the batch. Sources done already are skipped.

    --executor ray cuts the files on Ray workers, which write into DATASET (shared, on a cluster).

    Manifests are rebuilt over the whole dataset: re-running resumes and adds to it.
    """
    with reporting_errors(verbose):
        runner = executor_from_options(
            executor, ray_address, workers, cpus_per_worker, gpus_per_worker
        )
        names = list(dict.fromkeys(f.strip().lower() for f in formats.split(",") if f.strip()))
        if not names:
            raise InputError("--format: give at least one format, e.g. nemo,hf")
        known = [*DATASET_FORMATS, *writer_registry.names()]
        for name in names:
            if name not in known:
                raise UnknownNameError("format", name, known, "--format")
        dataset_formats = [f for f in names if f in DATASET_FORMATS]
        if channels:
            set_ = [*(set_ or ()), "input.channels=true"]
        config_ = pipeline_config(config, set_, stages, model, device, vocabulary)
        per_source = [f for f in names if f not in DATASET_FORMATS]
        options = {fmt: dict(config_.writers.get(fmt) or {}) for fmt in per_source}
        for fmt in TIER_FORMATS:
            options.get(fmt, {}).update(min_duration=min_duration, max_duration=max_duration)
        writers = make_writers(",".join(per_source), options) if per_source else {}
        if min_duration >= max_duration:
            raise InputError(
                f"--min-duration ({min_duration:g}) must be under --max-duration ({max_duration:g})"
            )
        dataset = Dataset(output, min_duration, max_duration, min_confidence)
        sources = collect_inputs(inputs)
        check_stems(sources)
        for source in sources:
            dataset.check_source(source)
        pending, skipped = [], []
        for source in sources:
            outputs = [dataset.record_path(source.stem)]
            outputs += output_paths(source, dataset.annotations, writers).values()
            done = not overwrite and all(path.exists() for path in outputs)
            (skipped if done else pending).append(source)
        add = AddToDataset(output, min_duration, max_duration, min_confidence)
        job = Job(writers, dataset.annotations, config=config_, verbose=verbose, then=add)
        result = run_job(runner, job, by_duration(pending), skipped=skipped)
        dataset = Dataset(output, min_duration, max_duration, min_confidence)  # as written
        for path in dataset.export(dataset_formats, audio_url_prefix=audio_url_prefix):
            say(f"wrote {path}")
        _summary(dataset)
    report(result, "annotated", output)


def _summary(dataset: Dataset) -> None:
    records = dataset.records.values()
    clips = [c for r in records for c in r.clips]
    low = sum(r.low_confidence for r in records)
    short = sum(r.too_short for r in records)
    long = sum(r.too_long for r in records)
    say(
        f"dataset: {_count(len(clips), 'clip')}, "
        f"{format_duration(sum(c.duration for c in clips))} of speech, "
        f"from {_count(len(records), 'source')}; "
        f"left out: {low} under --min-confidence, {short} too short, {long} too long"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def import_annotations_command(
    export: Annotated[
        Path,
        typer.Argument(
            metavar="LABEL_STUDIO_EXPORT.json",
            help="The project exported from Label Studio as JSON, after correction.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", metavar="MANIFEST.jsonl", help="The manifest to write."),
    ],
    audio_url_prefix: Annotated[
        str | None,
        typer.Option(
            "--audio-url-prefix",
            metavar="URL",
            help="Taken off the front of each task's audio (as given to annotate), leaving a "
            "path relative to the manifest's folder.",
        ),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Read corrected Label Studio annotations into a manifest that eval reads.

    Each region left in a task's annotation becomes a line: audio, text, offset, duration.

    Deleted regions are gone; tasks nobody annotated are left out.
    """
    with reporting_errors(verbose):
        try:
            imported = import_annotations(export, output, audio_url_prefix=audio_url_prefix)
        except AnnotationError as e:
            raise InputError(str(e)) from None
    say(f"wrote {len(imported.rows)} lines to {output}")
    if imported.unannotated:
        shown = ", ".join(imported.unannotated[:10])
        say(f"note: {len(imported.unannotated)} task(s) not annotated yet, left out: {shown}")
    if imported.empty_regions:
        say(f"note: {imported.empty_regions} region(s) with no text, left out")
