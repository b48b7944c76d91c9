"""``asr-pipeline transcribe`` and ``asr-pipeline render``: files in, formatted files out."""

from pathlib import Path
from typing import Annotated

import typer

from ..config import resolve_config
from ..pipeline import Pipeline
from ..types import Transcript
from .batch import check_stems, collect_inputs, make_writers, plan, report, run_batch
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
FORMAT_HELP = "Comma-separated output formats: txt, md, docx, srt, vtt, json, textgrid, eaf, ctm."
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
        list[str],
        typer.Argument(
            metavar="INPUT",
            help="Audio or video files, folders (searched recursively) or glob patterns.",
            show_default=False,
        ),
    ],
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
    verbose: VerboseOption = False,
) -> None:
    """Transcribe audio and video files into text, documents, subtitles or JSON.

    Outputs are DIR/<input stem>.<format>. A failed file does not stop the batch.

    Inputs whose outputs all exist are skipped: re-running an interrupted batch resumes it.
    """
    with reporting_errors(verbose):
        if channels:
            set_ = [*(set_ or ()), "input.channels=true"]
        config_ = pipeline_config(config, set_, stages, model, device, vocabulary)
        writers = make_writers(formats, config_.writers)
        sources = collect_inputs(inputs)
        check_stems(sources)
        pending, skipped = plan(sources, output_dir, writers, overwrite)
        pipeline = Pipeline(config_) if pending else Pipeline()
        result = run_batch(pending, pipeline, writers, output_dir, verbose=verbose)
        result.skipped = skipped
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
    model: ModelOption = None,
    device: DeviceOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Write saved JSON transcripts in other formats, with no recognition.

    Writer options come from the config's writers section.

    With --stages, those text stages run over each transcript first.
    """
    with reporting_errors(verbose):
        data = config_data(config, set_, stages, model, device)
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
