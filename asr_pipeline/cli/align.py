"""``asr-pipeline align``: a known transcript timed against its audio."""

from pathlib import Path
from typing import Annotated

import typer

from ..types import Audio
from ..writers import write_transcript
from .batch import make_writers
from .options import (
    ConfigOption,
    DeviceOption,
    InputError,
    ModelOption,
    SetOption,
    VerboseOption,
    build_pipeline,
    reporting_errors,
    say,
)

__all__ = ["align"]


def align(
    audio: Annotated[
        Path, typer.Argument(metavar="AUDIO", help="The recording.", show_default=False)
    ],
    text: Annotated[
        Path,
        typer.Argument(
            metavar="TEXT",
            help="What is said in it, as UTF-8 text (kept as written).",
            show_default=False,
        ),
    ],
    output_dir: Annotated[
        Path,
        typer.Option(
            "--output-dir",
            "-o",
            metavar="DIR",
            help="Where outputs go, as <DIR>/<audio stem>.<format>.",
        ),
    ] = Path("."),
    formats: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMATS",
            help="Comma-separated output formats: json (with the alignment report), srt, vtt, "
            "txt, md, docx.",
        ),
    ] = "json",
    min_score: Annotated[
        float,
        typer.Option(help="An utterance aligned with a score below this is reported as not found."),
    ] = 0.3,
    lookahead_s: Annotated[
        float,
        typer.Option(
            help="Seconds beyond an utterance's expected length searched for it: the longest "
            "stretch of speech missing from the text that alignment can skip."
        ),
    ] = 30.0,
    config: ConfigOption = None,
    set_: SetOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Time every word of a known transcript (a script, a chapter, a corrected draft).

    Text the audio does not contain and speech the text does not cover are reported with their
    spans (and in the json output), never stretched over.
    """
    from ..align import align as align_text

    with reporting_errors(verbose):
        try:
            transcript_text = text.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"{text}: cannot read the text ({e}); give a UTF-8 text file") from e
        if not transcript_text.strip():
            raise InputError(f"{text}: the text is empty")
        if not audio.is_file():
            raise InputError(f"{audio}: no such file")
        writers = make_writers(formats)
        stage = build_pipeline(config, set_, "ctc", model, device).get_stage("ctc")
        transcript = align_text(
            Audio.open(audio), transcript_text, stage, min_score=min_score, lookahead_s=lookahead_s
        )
        output_dir.mkdir(parents=True, exist_ok=True)
        for writer in writers.values():
            write_transcript(transcript, output_dir / f"{audio.stem}.{writer.extension}", writer)
    report = transcript.metadata.extra["alignment"]
    utterances = report["utterances"]
    for item in utterances:
        if not item["found"]:
            say(
                f"not found in the audio ({item['start']:.2f}-{item['end']:.2f} s, "
                f"score {item['score']:.2f}): {item['text']}"
            )
    for item in report["unaligned_audio"]:
        say(f"speech with no text ({item['start']:.2f}-{item['end']:.2f} s): {item['heard']}")
    found = sum(item["found"] for item in utterances)
    say(f"aligned {found} of {len(utterances)} utterances -> {output_dir}")
