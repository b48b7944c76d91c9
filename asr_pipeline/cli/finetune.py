"""``asr-pipeline finetune``: adapt the acoustic model to your labelled audio."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..train.defaults import (
    DEFAULT_BATCH_SECONDS,
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    DEFAULT_WARMUP,
)
from .options import DeviceOption, InputError, VerboseOption, reporting_errors, say

__all__ = ["finetune"]

TRAINING = "Training"
MANIFEST_HELP = (
    "TSV/JSONL manifest (audio, text; NeMo JSONL with offset/duration for clips), as eval reads."
)


def finetune(
    train: Annotated[Path, typer.Argument(metavar="TRAIN", help=MANIFEST_HELP, show_default=False)],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="OUT_DIR", help="Folder of the fine-tuned model."),
    ] = None,
    eval_manifest: Annotated[
        Path | None,
        typer.Option("--eval", metavar="DEV", help="Dev manifest: WER/CER during training."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="ID_OR_FOLDER",
            help="Start model (default: the ctc stage's model at its pinned revision).",
        ),
    ] = None,
    revision: Annotated[
        str | None, typer.Option("--revision", metavar="REV", help="Hub revision of --model.")
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option("--steps", min=1, help="Optimiser steps.", rich_help_panel=TRAINING),
    ] = None,
    epochs: Annotated[
        float | None,
        typer.Option(
            "--epochs",
            help=f"Passes over TRAIN (default {DEFAULT_EPOCHS:g}) when --steps is not given.",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    lr: Annotated[
        float, typer.Option("--lr", help="Peak learning rate.", rich_help_panel=TRAINING)
    ] = DEFAULT_LR,
    warmup: Annotated[
        int,
        typer.Option("--warmup", min=0, help="Warm-up steps.", rich_help_panel=TRAINING),
    ] = DEFAULT_WARMUP,
    batch_seconds: Annotated[
        float,
        typer.Option(
            "--batch-seconds",
            help="Seconds of audio per optimiser step (gradient accumulation beyond memory).",
            rich_help_panel=TRAINING,
        ),
    ] = DEFAULT_BATCH_SECONDS,
    freeze_feature_encoder: Annotated[
        bool,
        typer.Option(
            "--freeze-feature-encoder/--train-feature-encoder",
            help="Keep the convolutional feature encoder fixed.",
            rich_help_panel=TRAINING,
        ),
    ] = True,
    freeze_layers: Annotated[
        int,
        typer.Option(
            "--freeze-layers",
            min=0,
            metavar="K",
            help="Also keep the first K transformer layers fixed.",
            rich_help_panel=TRAINING,
        ),
    ] = 0,
    mask_time_prob: Annotated[
        float,
        typer.Option(
            "--mask-time-prob",
            help="SpecAugment: share of frames masked.",
            rich_help_panel=TRAINING,
        ),
    ] = 0.05,
    layerdrop: Annotated[
        float,
        typer.Option(
            "--layerdrop", help="Chance of skipping a transformer layer.", rich_help_panel=TRAINING
        ),
    ] = 0.0,
    device: DeviceOption = None,
    eval_every: Annotated[
        int,
        typer.Option(
            "--eval-every",
            min=1,
            metavar="STEPS",
            help="Score the dev set (and checkpoint) every this many steps.",
            rich_help_panel=TRAINING,
        ),
    ] = 100,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the run in OUT_DIR from its last checkpoint.",
            rich_help_panel=TRAINING,
        ),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", rich_help_panel=TRAINING)] = 0,
    max_minutes: Annotated[
        float | None,
        typer.Option(
            "--max-minutes",
            metavar="M",
            help="Stop after M minutes of training, keeping the best checkpoint.",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Only check the data (texts, audio, hours) and exit.")
    ] = False,
    verbose: VerboseOption = False,
) -> None:
    """Fine-tune the acoustic model on your labelled audio.

    Checks every line first (texts in the model's alphabet, digits, audio); any problem stops
    the run before training. The clip with the best dev CER is kept in OUT_DIR, which
    --model OUT_DIR loads.
    """
    from ..train.finetune import DataCheckError, FinetuneOptions

    options = FinetuneOptions(
        model=model,
        revision=revision,
        eval_manifest=eval_manifest,
        steps=steps,
        epochs=epochs,
        lr=lr,
        warmup=warmup,
        batch_seconds=batch_seconds,
        freeze_feature_encoder=freeze_feature_encoder,
        freeze_layers=freeze_layers,
        mask_time_prob=mask_time_prob,
        layerdrop=layerdrop,
        device=device or "auto",
        eval_every=eval_every,
        resume=resume,
        seed=seed,
        max_minutes=max_minutes,
    )
    with reporting_errors(verbose):
        options.check()
        try:
            if check:
                from ..train.finetune import check_manifests

                _, *checks = check_manifests(train, options)
                for found in checks:
                    if found is not None:
                        say(found.summary())
                        for warning in found.warnings:
                            say(f"warning: {warning}")
                say("the data is ready for training")
                return
            if output is None:
                raise InputError("give the output folder with -o OUT_DIR")
            from ..train.finetune import finetune as run

            result = run(train, output, options, notify=say)
        except DataCheckError as e:
            for error in e.errors:
                say(f"error: {error}")
            raise InputError(
                f"{len(e.errors)} problem(s) in the data; nothing was trained"
            ) from None
    best = result.best
    if best is not None and result.before is not None:
        say(
            f"dev CER {result.before['cer']:.1%} -> {best['cer']:.1%}, WER "
            f"{result.before['wer']:.1%} -> {best['wer']:.1%} (step {best['step']})"
        )
    say(f"{result.steps} steps in {result.train_s / 60:.1f} min; model saved to {output}")
