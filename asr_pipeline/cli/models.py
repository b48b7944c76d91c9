"""``asr-pipeline models download|list``: prepare a machine once, then run offline."""

from pathlib import Path
from typing import Annotated

import typer

from ..ctc import DEFAULT_MODEL
from ..models import CachedModel, cache_dir, cached_models, download_model
from .options import VerboseOption, reporting_errors, say

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
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Hub model ID.")] = DEFAULT_MODEL,
    revision: Annotated[
        str | None,
        typer.Option(
            "--revision",
            "-r",
            metavar="R",
            help="Commit hash, branch or tag (default: the default model's pinned commit, "
            "another model's newest).",
        ),
    ] = None,
    no_lm: Annotated[
        bool, typer.Option("--no-lm", help="Skip the language_model/ folder (beam search).")
    ] = False,
    cache: CacheDirOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Download a model (with its KenLM language model, when it has one) into the cache.

    Afterwards the machine runs without network access: set HF_HUB_OFFLINE=1.
    """
    with reporting_errors(verbose):
        path = download_model(model, revision, language_model=not no_lm, directory=cache)
        say(f"downloaded {model} revision {path.name} to {path}")
        say(f"pin it with --set stages.ctc.revision={path.name}; run offline with HF_HUB_OFFLINE=1")


@app.command("list")
def list_models(cache: CacheDirOption = None, verbose: VerboseOption = False) -> None:
    """List the cached models: ID, revision, size, and whether a language model is there."""
    with reporting_errors(verbose):
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
