"""``asr-pipeline lm build``: a word language model of your own text, for beam search."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .options import InputError, VerboseOption, reporting_errors, say

__all__ = ["app", "build"]

app = typer.Typer(
    help="Language models for beam-search decoding.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command()
def build(
    corpus: Annotated[
        list[Path],
        typer.Argument(
            metavar="CORPUS...", help="UTF-8 text files, one sentence a line.", show_default=False
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="LM_DIR", help="Folder of the language model."),
    ] = None,
    order: Annotated[int, typer.Option("--order", min=2, max=6, help="n-gram order.")] = 3,
    tune: Annotated[
        Path | None,
        typer.Option(
            "--tune",
            metavar="DEV_MANIFEST",
            help="Grid-search alpha/beta on this manifest's audio and store them.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="ID_OR_FOLDER",
            help="Acoustic model whose alphabet the text is normalised to (and that --tune "
            "decodes with); default: the ctc stage's model.",
        ),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Build an interpolated Kneser-Ney language model (ARPA) of your text.

    The text is normalised to the acoustic model's alphabet; LM_DIR is laid out as the beam
    decoder reads it: --set stages.ctc.decoder=beam --set stages.ctc.lm=LM_DIR.
    """
    from ..train.lm import build_for_model

    with reporting_errors(verbose):
        if output is None:
            raise InputError("give the output folder with -o LM_DIR")
        for path in corpus:
            if not path.is_file():
                raise InputError(f"no such corpus file: {path}")
        if tune is not None and not tune.is_file():
            raise InputError(f"--tune: no such manifest: {tune}")
        summary = build_for_model(corpus, output, model, order=order, tune=tune)
    say(
        f"{summary.sentences:,} sentences, {summary.words:,} words, {summary.vocabulary:,} "
        f"distinct; {summary.smoothing()}; built in {summary.seconds:.1f} s -> {output}"
    )
    if verbose:
        for n, count in summary.ngrams.items():
            say(f"  {n}-grams: {count:,}, discounts {summary.discounts[n]}")
    if summary.alpha is not None:
        say(
            f"tuned on {tune}: alpha {summary.alpha}, beta {summary.beta} "
            f"(WER {summary.tuning['wer']:.1%}, CER {summary.tuning['cer']:.1%})"
        )
