"""``asr-pipeline transcribe`` and ``asr-pipeline render``: files in, formatted files out."""

from pathlib import Path
from typing import Annotated

import typer

from ..config import resolve_config
from ..executors import Job, by_duration, run_job
from ..pipeline import Pipeline
from ..types import Transcript
from .batch import check_stems, collect_inputs, make_writers, plan, report, run_batch
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
    config_data,
    pipeline_config,
    reporting_errors,
)

__all__ = ["load_transcript", "render", "transcribe"]

OutputDirOption = Annotated[
    Path,
    typer.Option(
        "--output-dir",
        "-o",
        metavar="DIR",
        help="Where outputs go, as <DIR>/<input stem>.<format>; default: the current folder.",
    ),
]
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Redo inputs whose outputs all exist already.")
]
FORMAT_HELP = (
    "Comma-separated output formats: txt, md, docx, srt, vtt, json, textgrid, eaf, ctm, rttm."
)
ChannelsOption = Annotated[
    bool,
    typer.Option(
        "--channels",
        help="Recognise each channel on its own, one speaker each (stereo calls); "
        "names from input.speakers (sets input.channels).",
    ),
]


def transcribe(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="INPUT",
            help="Audio or video files, folders (searched recursively) or glob patterns.",
            show_default=False,
        ),
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            metavar="FILE",
            help="Also transcribe the audio files listed in FILE: a TSV with an audio column "
            "or JSONL with an audio key (the eval manifest formats), paths relative to FILE.",
        ),
    ] = None,
    output_dir: OutputDirOption = Path("."),
    formats: Annotated[
        str, typer.Option("--format", "-f", metavar="FORMATS", help=FORMAT_HELP)
    ] = "txt",
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
    """Transcribe audio and video files into text, documents, subtitles or JSON.

    Outputs are DIR/<input stem>.<format>. A failed file does not stop the batch: failures
    go to DIR/_failures.jsonl and every run adds a line to DIR/_runs.jsonl.

    Inputs whose outputs all exist are skipped: re-running an interrupted batch resumes it.

    --executor ray spreads the files over Ray workers, longest first (see docs/scale.md).
    """
    with reporting_errors(verbose):
        runner = executor_from_options(
            executor, ray_address, workers, cpus_per_worker, gpus_per_worker
        )
        if channels:
            set_ = [*(set_ or ()), "input.channels=true"]
        config_ = pipeline_config(config, set_, stages, model, device, vocabulary)
        writers = make_writers(formats, config_.writers)
        sources = collect_inputs(inputs or [], manifest=manifest)
        check_stems(sources)
        pending, skipped = plan(sources, output_dir, writers, overwrite)
        job = Job(writers, output_dir, config=config_, verbose=verbose)
        result = run_job(runner, job, by_duration(pending), skipped=skipped, record=True)
    report(result, "transcribed", output_dir)


def load_transcript(path: Path) -> Transcript:
    """A transcript saved as JSON; raises :class:`InputError` naming the file."""
    try:
        return Transcript.from_json(path.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path}: not a transcript saved as JSON ({e})") from e


def render(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="TRANSCRIPT.json",
            help="Transcripts saved with -f json: files, folders or glob patterns.",
            show_default=False,
        ),
    ],
    formats: Annotated[str, typer.Option("--format", "-f", metavar="FORMATS", help=FORMAT_HELP)],
    output_dir: OutputDirOption = Path("."),
    overwrite: OverwriteOption = False,
    config: ConfigOption = None,
    set_: SetOption = None,
    stages: StagesOption = None,
    device: DeviceOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Write saved JSON transcripts in other formats, with no recognition.

    Writer options come from the config's writers section.

    With --stages, those text stages run over each transcript first.
    """
    with reporting_errors(verbose):
        data = config_data(config, set_, stages, None, device)
        if stages is None:
            data["pipeline"] = []
        config_ = resolve_config(data)
        writers = make_writers(formats, config_.writers)
        sources = collect_inputs(inputs, extensions={".json"})
        check_stems(sources)
        pending, skipped = plan(sources, output_dir, writers, overwrite)
        pipeline = Pipeline(config_)

        def process(path: Path) -> Transcript:
            transcript = load_transcript(path)
            return pipeline(transcript) if pipeline.stage_names else transcript

        result = run_batch(pending, process, writers, output_dir, verbose=verbose)
        result.skipped = skipped
    report(result, "rendered", output_dir)
