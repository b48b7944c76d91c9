"""The ``asr-pipeline`` command line.

Commands live one per module; each that runs a pipeline takes the shared options from
:mod:`asr_pipeline.cli.options` and builds its pipeline with :func:`build_pipeline`.
"""

from typing import Annotated

import typer

from .. import __version__
from . import configure, evaluate, lm, models
from .align import align
from .annotate import annotate, import_annotations_command
from .finetune import finetune
from .listing import stages
from .options import build_pipeline, pipeline_config, quiet_help_types, reporting_errors
from .postprocess import postprocess
from .serve import serve
from .transcribe import render, transcribe

__all__ = ["app", "build_pipeline", "main", "pipeline_config", "reporting_errors"]

quiet_help_types()

app = typer.Typer(
    name="asr-pipeline",
    help="Russian speech to readable, timed text.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"asr-pipeline {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Russian speech to readable, timed text."""


app.command()(transcribe)
app.command()(postprocess)
app.command()(render)
app.command("stages")(stages)
app.command()(align)
app.command("eval")(evaluate.evaluate)
app.command()(annotate)
app.command("import-annotations")(import_annotations_command)
app.command()(serve)
app.add_typer(configure.app, name="config")
app.add_typer(models.app, name="models")
app.command()(finetune)
app.add_typer(lm.app, name="lm")


def main() -> None:
    """The console script's entry point."""
    app(prog_name="asr-pipeline")
