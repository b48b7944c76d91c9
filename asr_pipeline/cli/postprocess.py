"""``asr-pipeline postprocess``: text stages over lines of text, one output line per input line."""

import contextlib
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Annotated

import click
import typer

from ..config import resolve_config
from ..pipeline import Pipeline
from ..types import Transcript
from .options import (
    ConfigOption,
    DeviceOption,
    InputError,
    SetOption,
    StagesOption,
    VerboseOption,
    config_data,
    parse_stage_list,
    reporting_errors,
    text_stage_names,
)

__all__ = ["postprocess", "process_lines"]

BATCH_LINES = 512
"""Lines handed to the stages at once when reading a file or a pipe."""


def postprocess(
    source: Annotated[
        str | None,
        typer.Argument(
            metavar="FILE|-",
            help="UTF-8 text, one text per line; - or nothing reads standard input.",
            show_default=False,
        ),
    ] = None,
    stage: Annotated[
        list[str] | None,
        typer.Option(
            "--stage",
            metavar="NAME",
            help="A stage to run (repeatable, in order); default: the config's text stages.",
        ),
    ] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    stages: StagesOption = None,
    device: DeviceOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Run text stages (numbers, punctuation, casing, plugins) over lines of text.

    Prints exactly one line per input line; empty lines stay empty.

    The default stages are the config's stages after ctc.
    """
    with reporting_errors(verbose):
        if stage and stages is not None:
            raise InputError("give --stage (repeatable) or --stages, not both")
        data = config_data(config, set_, None, None, device)
        names = parse_stage_list(stage, "--stage") if stage else parse_stage_list(stages)
        data["pipeline"] = names if names is not None else text_stage_names(data)
        config_ = resolve_config(data)
        name, stream = _open(source)  # a missing input is found before any model loads
        pipeline = Pipeline(config_)
        interactive = stream.isatty()
        with stream if name != "<stdin>" else contextlib.nullcontext(stream):
            lines = _decode(stream, name)
            for chunk in _chunks(lines, 1 if interactive else BATCH_LINES):
                typer.echo("\n".join(process_lines(pipeline, chunk)))


def process_lines(pipeline: Pipeline, lines: list[str]) -> list[str]:
    """One output line per input line; blank lines give empty lines."""
    texts = [" ".join(line.split()) for line in lines]
    todo = [Transcript.from_text(text) for text in texts if text]
    if not todo or not pipeline.stage_names:
        return texts
    results = pipeline.pipe(todo, batch_size=len(todo))
    return [" ".join(next(results).text.split()) if text else "" for text in texts]


def _open(source: str | None) -> tuple[str, IO[bytes]]:
    if source is None or source == "-":
        return "<stdin>", click.get_binary_stream("stdin")
    path = Path(source)
    try:
        return source, path.open("rb")
    except OSError as e:
        raise InputError(f"{source}: cannot read ({e.strerror or e})") from e


def _decode(stream: Iterable[bytes], name: str) -> Iterator[str]:
    """Lines split at ``\\n`` only (a stray ``\\r`` never makes an extra line), BOM dropped."""
    for number, raw in enumerate(stream, 1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            raise InputError(f"{name}: line {number} is not UTF-8 text ({e.reason})") from e


def _chunks(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(itertools.islice(lines, size)):
        yield chunk
