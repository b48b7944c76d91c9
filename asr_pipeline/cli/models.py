"""``asr-pipeline models download|list``: prepare a machine once, then run offline."""

from pathlib import Path
from typing import Annotated

import typer

from ..models import CachedModel, cache_dir, cached_models, download_model, models_needed
from .options import (
    ConfigOption,
    InputError,
    SetOption,
    StagesOption,
    VerboseOption,
    pipeline_config,
    reporting_errors,
    say,
)

__all__ = ["app", "format_size", "model_table"]

app = typer.Typer(
    name="models",
    help="Download models for offline use; list the cached ones.",
    no_args_is_help=True,
)

CacheDirOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        metavar="DIR",
        help="The hub cache (default: HF_HUB_CACHE, else ~/.cache/huggingface/hub).",
    ),
]


@app.command("download")
def download(
    model: Annotated[
        str | None,
        typer.Argument(
            metavar="[MODEL]",
            help="A hub model ID to download alone (default: every model the configured "
            "pipeline loads).",
            show_default=False,
        ),
    ] = None,
    revision: Annotated[
        str | None,
        typer.Option(
            "--revision",
            "-r",
            metavar="R",
            help="With MODEL: commit hash, branch or tag (default: the default model's pinned "
            "commit, another model's newest).",
        ),
    ] = None,
    no_lm: Annotated[
        bool,
        typer.Option("--no-lm", help="With MODEL: skip the language_model/ folder (beam search)."),
    ] = False,
    cache: CacheDirOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    stages: StagesOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Download the models the configured pipeline loads, or MODEL alone, into the cache.

    Without MODEL: the ctc model at its pinned revision (with its language model when the
    decoder is beam) and the punctuation model, as -c, --set and --stages configure them.

    Afterwards the machine runs without network access: set HF_HUB_OFFLINE=1.
    """
    with reporting_errors(verbose):
        if model is not None:
            if config is not None or set_ or stages is not None:
                raise InputError("give either MODEL or -c/--set/--stages, not both")
            path = download_model(model, revision, language_model=not no_lm, directory=cache)
            say(f"downloaded {model} revision {path.name} to {path}")
            say(
                f"pin it with --set stages.ctc.revision={path.name}; "
                "run offline with HF_HUB_OFFLINE=1"
            )
            return
        if revision is not None or no_lm:
            raise InputError("--revision and --no-lm go with MODEL; set revisions in the config")
        config_ = pipeline_config(config, set_, stages)
        needs = models_needed(config_)
        if not needs:
            say("the configured pipeline loads no model from the hub; nothing to download")
            return
        for need in needs:
            path = download_model(
                need.model, need.revision, language_model=need.language_model, directory=cache
            )
            extra = " with its language model" if need.language_model else ""
            say(f"{need.stage}: downloaded {need.model}{extra} revision {path.name} to {path}")
        say("run offline with HF_HUB_OFFLINE=1")


@app.command("list")
def list_models(cache: CacheDirOption = None, verbose: VerboseOption = False) -> None:
    """List the cached models: ID, revision, size, and whether a language model is there."""
    with reporting_errors(verbose):
        if cache is not None and cache.exists() and not cache.is_dir():
            raise InputError(f"--cache-dir: {cache} is not a folder")
        found = cached_models(cache)
        if not found:
            say(f"no models in {cache_dir(cache)}")
            return
        typer.echo(model_table(found))


def model_table(models: list[CachedModel]) -> str:
    """The cached models as aligned columns."""
    rows = [("MODEL", "REVISION", "REFS", "SIZE", "FILES", "LM")]
    for m in models:
        rows.append(
            (
                m.model,
                m.revision[:12],
                ",".join(m.refs) or "-",
                format_size(m.size),
                str(m.files),
                "yes" if m.language_model else "no",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def format_size(size: int) -> str:
    """Bytes in decimal units: ``950 B``, ``1.5 kB``, ``1.3 GB``."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    units = ["kB", "MB", "GB", "TB"]
    while True:
        value /= 1000
        unit = units.pop(0)
        if value < 1000 or not units:
            return f"{value:.1f} {unit}"
