"""The model card (``README.md``) of a fine-tuned model folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..io import atomic_write

if TYPE_CHECKING:
    from .finetune import FinetuneResult

__all__ = ["model_card", "write_card"]


def _rates(scores: dict | None) -> str:
    if not scores:
        return "- | -"
    return f"{scores['wer']:.1%} | {scores['cer']:.1%}"


def model_card(result: FinetuneResult) -> str:
    """Base model and revision, data hours, steps, dev WER/CER before and after."""
    options = result.options
    revision = f"`{result.base_revision}`" if result.base_revision else "none (a local folder)"
    dev = f"{result.dev_hours:.2f} h" if result.dev_hours is not None else "none"
    best = result.best
    lines = [
        "---",
        "pipeline_tag: automatic-speech-recognition",
        f"base_model: {result.base_model}",
        "---",
        "",
        f"# Fine-tuned from {result.base_model}",
        "",
        f"- Base model: `{result.base_model}`, revision {revision}",
        f"- Training data: {result.train_hours:.2f} h of audio; dev set: {dev}",
        f"- Steps: {result.steps} ({result.epochs:g} epochs) in {result.train_s / 60:.1f} min; "
        f"kept: step {best['step'] if best else result.steps}",
        f"- Learning rate {options['lr']:g}, warm-up {options['warmup']} steps, "
        f"{options['batch_seconds']:g} s of audio per step, mask_time_prob "
        f"{options['mask_time_prob']:g}, layerdrop {options['layerdrop']:g}, feature encoder "
        f"{'frozen' if options['freeze_feature_encoder'] else 'trained'}, "
        f"{options['freeze_layers']} transformer layer(s) frozen, seed {options['seed']}",
    ]
    if result.new_letters:
        lines.append(f"- CTC head extended with {''.join(result.new_letters)!r}")
    lines += [
        "",
        "## Dev scores (greedy decoding, scored like `asr-pipeline eval`)",
        "",
        "| | WER | CER |",
        "|---|---|---|",
        f"| before | {_rates(result.before)} |",
        f"| after (best dev CER) | {_rates(best)} |",
        "",
    ]
    if result.alarm:
        lines += [f"**Warning:** {result.alarm}", ""]
    lines += [
        "## Use",
        "",
        "```bash",
        f"asr-pipeline transcribe audio.wav --model {result.output}",
        "```",
        "",
        "Add a language model of your own text with "
        f"`asr-pipeline lm build corpus.txt -o {result.output}/language_model --model "
        f"{result.output}` and decode with `--set stages.ctc.decoder=beam`.",
        "",
    ]
    return "\n".join(lines)


def write_card(result: FinetuneResult) -> None:
    with atomic_write(result.output / "README.md") as handle:
        handle.write(model_card(result))
