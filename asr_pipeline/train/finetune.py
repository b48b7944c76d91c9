"""Fine-tuning a wav2vec2 CTC model on your labelled audio with transformers' Trainer.

>>> options = FinetuneOptions(eval_manifest="dev.tsv")              # doctest: +SKIP
>>> result = finetune("train.tsv", "my-model", options)             # doctest: +SKIP
>>> result.before["cer"], result.best["cer"]                        # doctest: +SKIP

The loss is Wav2Vec2ForCTC's own CTC loss (``ctc_zero_infinity`` on, so one clip too short for
its text cannot turn the loss into NaN). Every ``eval_every`` steps the dev manifest is decoded
greedily by the ``ctc`` stage's decoder and scored by ``eval``'s rules; the checkpoint with the
lowest dev CER is the output folder's model. The output loads with ``--model OUT_DIR``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AsrPipelineError, ConfigError
from ..io import atomic_write
from .check import DataCheck, check_data
from .data import Sample, greedy_texts, log_probs_of, read_wave
from .defaults import DEFAULT_BATCH_SECONDS, DEFAULT_EPOCHS, DEFAULT_LR, DEFAULT_WARMUP
from .text import Alphabet

__all__ = [
    "DataCheckError",
    "check_manifests",
    "FinetuneOptions",
    "FinetuneResult",
    "finetune",
    "load_checks",
]

MICRO_BATCH_SECONDS = {"cpu": 32.0, "cuda": 160.0}
"""Audio in one forward pass; ``batch_seconds`` beyond it is reached by gradient accumulation."""
BLANK_ALARM_SHARE = 0.9
STATE_FILE = "finetune.json"
CHECKPOINTS = "checkpoints"

Notify = Callable[[str], None]


class DataCheckError(AsrPipelineError, ValueError):
    """Training data that failed the check; ``errors`` lists every problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s) in the training data: " + "; ".join(errors))


@dataclass
class FinetuneOptions:
    """How to fine-tune (the ``finetune`` command's options)."""

    model: str | None = None
    """Start model: hub id or folder (None: the ``ctc`` stage's default at its pinned commit)."""
    revision: str | None = None
    eval_manifest: str | Path | None = None
    steps: int | None = None
    epochs: float | None = None
    """Used when ``steps`` is None (default ``DEFAULT_EPOCHS``)."""
    lr: float = DEFAULT_LR
    warmup: int = DEFAULT_WARMUP
    batch_seconds: float = DEFAULT_BATCH_SECONDS
    freeze_feature_encoder: bool = True
    freeze_layers: int = 0
    mask_time_prob: float = 0.05
    layerdrop: float = 0.0
    device: str = "auto"
    eval_every: int = 100
    resume: bool = False
    seed: int = 0
    max_minutes: float | None = None

    def check(self) -> None:
        """Refuse values that cannot train."""
        for name in ("steps", "eval_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError("expected at least 1", f"--{name.replace('_', '-')}")
        for name in ("epochs", "lr", "batch_seconds", "max_minutes"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError("expected a positive number", f"--{name.replace('_', '-')}")
        for name in ("warmup", "freeze_layers"):
            if getattr(self, name) < 0:
                raise ConfigError("expected 0 or more", f"--{name.replace('_', '-')}")
        for name in ("mask_time_prob", "layerdrop"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError("expected 0 <= p < 1", f"--{name.replace('_', '-')}")
        if self.steps is not None and self.epochs is not None:
            raise ConfigError("give --steps or --epochs, not both", "--steps")


@dataclass
class FinetuneResult:
    """What a run did: steps, time, dev scores before and at the best step, the alarm."""

    output: Path
    base_model: str
    base_revision: str | None
    train_hours: float
    dev_hours: float | None
    steps: int = 0
    epochs: float = 0.0
    train_s: float = 0.0
    before: dict[str, float] | None = None
    best: dict[str, float] | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    alarm: str | None = None
    new_letters: dict[str, int] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "output": str(self.output)}


# ---------------------------------------------------------------- checks


def load_checks(
    train: str | Path, dev: str | Path | None, alphabet: Alphabet, frame_s: float
) -> tuple[DataCheck, DataCheck | None]:
    """Check both manifests; raise :class:`DataCheckError` listing every hard error."""
    train_check = check_data(train, alphabet, frame_s=frame_s)
    dev_check = check_data(dev, alphabet, frame_s=frame_s) if dev is not None else None
    errors = train_check.errors + (dev_check.errors if dev_check else [])
    if errors:
        raise DataCheckError(errors)
    return train_check, dev_check


def check_manifests(
    train: str | Path, options: FinetuneOptions
) -> tuple[Any, DataCheck, DataCheck | None]:
    """Load the start model and check the manifests against its alphabet (the ``--check``)."""
    from ..ctc import DEFAULT_MODEL
    from ..ctc.model import load_model
    from ..hub import revision_to_load

    name = options.model or DEFAULT_MODEL
    loaded = load_model(name, revision_to_load(name, options.revision))
    alphabet = Alphabet.of_tokenizer(loaded.tokenizer)
    frame_s = frame_seconds(loaded.model.config)
    return loaded, *load_checks(train, options.eval_manifest, alphabet, frame_s)


def frame_seconds(config: Any) -> float:
    """Seconds of audio per output frame of a wav2vec2 config (0.02 for 320-sample strides)."""
    return math.prod(getattr(config, "conv_stride", (320,))) / 16_000


# ---------------------------------------------------------------- the model


def extend_head(loaded: Any, letters: list[str], folder: Path) -> None:
    """Add ``letters`` to the tokenizer and the CTC head (new rows start small, old kept)."""
    import torch
    from transformers import Wav2Vec2CTCTokenizer

    model, tokenizer = loaded.model, loaded.tokenizer
    vocab = dict(tokenizer.get_vocab())
    head = model.lm_head
    next_id = max(head.out_features, max(vocab.values()) + 1)
    for offset, letter in enumerate(letters):
        vocab[letter] = next_id + offset
    size = next_id + len(letters)
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.json"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    loaded.tokenizer = Wav2Vec2CTCTokenizer(
        str(vocab_file),
        unk_token=tokenizer.unk_token,
        pad_token=tokenizer.pad_token,
        bos_token=tokenizer.bos_token,
        eos_token=tokenizer.eos_token,
        word_delimiter_token=tokenizer.word_delimiter_token,
        do_lower_case=False,
    )
    new = torch.nn.Linear(head.in_features, size)
    with torch.no_grad():
        new.weight.normal_(0.0, float(head.weight.std()))
        new.weight[: head.out_features] = head.weight
        new.bias.fill_(float(head.bias.mean()))
        new.bias[: head.out_features] = head.bias
    model.lm_head = new
    model.config.vocab_size = size


def prepare_model(model: Any, options: FinetuneOptions) -> None:
    """SpecAugment, layerdrop, a NaN-safe CTC loss and the frozen parts."""
    import torch

    config = model.config
    config.mask_time_prob = options.mask_time_prob
    encoder = model.wav2vec2
    if options.mask_time_prob > 0 and getattr(encoder, "masked_spec_embed", None) is None:
        # saved without SpecAugment: the learnt mask vector it needs, as transformers makes it
        encoder.masked_spec_embed = torch.nn.Parameter(torch.rand(config.hidden_size))
    config.layerdrop = options.layerdrop
    config.ctc_zero_infinity = True
    if options.freeze_feature_encoder:
        model.freeze_feature_encoder()
    if options.freeze_layers:
        layers = model.wav2vec2.encoder.layers
        if options.freeze_layers > len(layers):
            raise ConfigError(
                f"the model has {len(layers)} transformer layers, asked to freeze "
                f"{options.freeze_layers}",
                "--freeze-layers",
            )
        frozen = [model.wav2vec2.feature_projection, *layers[: options.freeze_layers]]
        for module in frozen:
            for parameter in module.parameters():
                parameter.requires_grad = False


def save_model(loaded: Any, folder: Path) -> None:
    """Model (safetensors), tokenizer and feature extractor; each file replaced atomically."""
    from transformers.utils import logging

    folder.mkdir(parents=True, exist_ok=True)
    bars = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()  # transformers' "Writing model shards" bar, at every save
    try:
        with tempfile.TemporaryDirectory(dir=folder, prefix=".saving-") as tmp:
            loaded.model.save_pretrained(tmp, safe_serialization=True)
            loaded.tokenizer.save_pretrained(tmp)
            loaded.feature_extractor.save_pretrained(tmp)
            for path in Path(tmp).iterdir():
                os.replace(path, folder / path.name)
    finally:
        if bars:
            logging.enable_progress_bar()


# ---------------------------------------------------------------- training pieces


class _Clips:
    """The training clips as a torch dataset of ``{input_values, labels}``."""

    def __init__(self, samples: list[Sample], waves: list[Any]) -> None:
        self.samples, self.waves = samples, waves

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"input_values": self.waves[index], "labels": self.samples[index].target}


class _Collator:
    """Pads a batch: normalised audio with its attention mask, labels with -100."""

    def __init__(self, feature_extractor: Any, tokenizer: Any) -> None:
        self.feature_extractor, self.tokenizer = feature_extractor, tokenizer

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.feature_extractor(
            [f["input_values"] for f in features],
            sampling_rate=16_000,
            padding=True,
            return_tensors="pt",
        )
        labels = self.tokenizer([f["labels"] for f in features], padding=True, return_tensors="pt")
        batch["labels"] = labels.input_ids.masked_fill(labels.attention_mask == 0, -100)
        return dict(batch)


class _Clock:
    def __init__(self, max_minutes: float | None) -> None:
        self.limit = max_minutes * 60 if max_minutes else None
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def fraction(self) -> float:
        return self.elapsed() / self.limit if self.limit else 0.0


def _lr_factor(step: int, warmup: int, total: int, clock: _Clock) -> float:
    """Linear warm-up, constant to 30 % of the run, then cosine down to 5 %; the run's progress
    is the larger of steps done and time used, so a ``max_minutes`` run still decays."""
    if step < warmup:
        return (step + 1) / warmup
    progress = max(step / max(total, 1), clock.fraction())
    decay = min(1.0, max(0.0, (progress - 0.3) / 0.7))
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * decay))


def _trainer_class() -> type:
    from functools import partial

    from torch.optim.lr_scheduler import LambdaLR
    from transformers import Trainer

    class ClockedTrainer(Trainer):
        """Trainer whose schedule also follows the clock (see ``_lr_factor``)."""

        clock: _Clock

        def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
            if self.lr_scheduler is None:
                factor = partial(
                    _lr_factor,
                    warmup=self.args.warmup_steps,
                    total=num_training_steps,
                    clock=self.clock,
                )
                self.lr_scheduler = LambdaLR(optimizer or self.optimizer, factor)
            return self.lr_scheduler

    return ClockedTrainer


def _callbacks(run: _Run) -> list[Any]:
    from transformers import TrainerCallback

    class Watch(TrainerCallback):
        """Progress bar, the time budget, dev scores and the best checkpoint."""

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            run.open_bar(state.max_steps, state.global_step)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                run.loss = float(logs["loss"])

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            step = state.global_step
            if run.clock.limit and run.clock.elapsed() >= run.clock.limit:
                control.should_training_stop = True
                control.should_save = True
            last = control.should_training_stop or step >= state.max_steps
            if step % run.options.eval_every == 0 or last:
                run.evaluate(step, state.epoch or 0.0)
            run.advance(step)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            run.close_bar()

    return [Watch()]


@dataclass
class _Run:
    """The state one training run shares between its callbacks."""

    loaded: Any
    options: FinetuneOptions
    output: Path
    result: FinetuneResult
    dev: list[Sample]
    dev_waves: list[Any]
    notify: Notify
    clock: _Clock
    loss: float | None = None
    bar: Any = None

    def open_bar(self, total: int, done: int) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, initial=done, desc="finetune", unit="step", dynamic_ncols=True)

    def advance(self, step: int) -> None:
        if self.bar is None:
            return
        self.bar.update(step - self.bar.n)
        shown = {"loss": f"{self.loss:.3f}" if self.loss is not None else "-"}
        if self.result.history:
            shown["dev_cer"] = f"{self.result.history[-1]['cer']:.3f}"
        if self.clock.limit:
            shown["left"] = f"{max(0.0, self.clock.limit - self.clock.elapsed()) / 60:.1f}min"
        self.bar.set_postfix(shown, refresh=False)

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def write(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message)
        else:
            self.notify(message)

    def evaluate(self, step: int, epoch: float) -> None:
        """Score the dev clips; keep the model when its CER is the best; raise the alarm."""
        self.result.steps, self.result.epochs = step, round(epoch, 2)
        self.result.train_s = round(self.clock.elapsed(), 1)
        if not self.dev:
            save_model(self.loaded, self.output)
            self.save_state()
            return
        scores = dev_scores(self.loaded, self.dev, self.dev_waves)
        entry = {"step": step, "epoch": round(epoch, 2), **scores}
        self.result.history.append(entry)
        best = self.result.best
        improved = best is None or scores["cer"] < best["cer"]
        if improved:
            self.result.best = entry
            save_model(self.loaded, self.output)
        self.write(
            f"step {step}: dev WER {scores['wer']:.1%} CER {scores['cer']:.1%}"
            + (" (best, saved)" if improved else f" (best CER {self.result.best['cer']:.1%})")
        )
        if (
            self.result.alarm is None
            and step > self.options.warmup
            and scores["empty"] >= BLANK_ALARM_SHARE
        ):
            self.result.alarm = blank_alarm(step, scores["empty"], self.options)
            self.write(f"warning: {self.result.alarm}")
        self.save_state()

    def save_state(self) -> None:
        with atomic_write(self.output / STATE_FILE) as handle:
            handle.write(json.dumps(self.result.to_dict(), indent=2, ensure_ascii=False) + "\n")


def blank_alarm(step: int, empty: float, options: FinetuneOptions) -> str:
    """The message of a blank collapse: nearly every dev prediction empty after warm-up."""
    return (
        f"blank collapse: {empty:.0%} of dev predictions are empty at step {step}, after "
        f"warm-up: the model emits only the CTC blank (transformers #10884). Likely causes: a "
        f"learning rate too high (--lr {options.lr:g}) or a warm-up too short (--warmup "
        f"{options.warmup}); too few steps for a new or extended CTC head; texts that do not "
        "match their audio; clips with long silences. Lower --lr, raise --warmup, check the data."
    )


def dev_scores(loaded: Any, samples: list[Sample], waves: list[Any]) -> dict[str, float]:
    """WER, CER (``eval``'s scoring) and the share of empty predictions on dev clips."""
    from ..ctc.decode import CtcVocabulary
    from ..evaluate import score

    log_probs = log_probs_of(loaded.model, loaded.feature_extractor, waves)
    vocabulary = CtcVocabulary.from_tokenizer(loaded.tokenizer, log_probs[0].shape[-1])
    texts = greedy_texts(log_probs, vocabulary)
    report = score(
        [s.entry for s in samples], {s.entry.id: t for s, t in zip(samples, texts, strict=True)}
    )
    empty = sum(not t.strip() for t in texts) / len(texts)
    return {"wer": round(report.wer, 4), "cer": round(report.cer, 4), "empty": round(empty, 3)}


# ---------------------------------------------------------------- the run


def _batch_shape(samples: list[Sample], batch_seconds: float, device: str) -> tuple[int, int]:
    """Clips per forward pass and accumulation steps for ``batch_seconds`` of audio a step."""
    mean = sum(s.duration for s in samples) / len(samples)
    micro = min(batch_seconds, MICRO_BATCH_SECONDS["cuda" if device.startswith("cuda") else "cpu"])
    per_pass = max(1, min(len(samples), round(micro / mean)))
    return per_pass, max(1, round(batch_seconds / (per_pass * mean)))


def cpu_threads() -> int:
    """Threads for training on CPU: the cores other processes leave idle (at least one).

    Two threads that wait for each other on an oversubscribed machine run several times slower
    than one (OpenMP spins), so a busy machine gets fewer."""
    cores = os.cpu_count() or 1
    return max(1, min(cores, round(cores - os.getloadavg()[0])))


def _check_output(output: Path, resume: bool) -> Path | None:
    """The checkpoint to resume from (None for a fresh run); refuses to overwrite a model."""
    from transformers.trainer_utils import get_last_checkpoint

    checkpoints = output / CHECKPOINTS
    if resume:
        last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
        if last is None:
            raise ConfigError(f"nothing to resume: no checkpoint in {checkpoints}", "--resume")
        return Path(last)
    if (output / "config.json").exists() or checkpoints.exists():
        raise ConfigError(
            f"{output} already holds a fine-tuned model: continue it with --resume, or choose "
            "another folder",
            "--output",
        )
    return None


def finetune(
    train: str | Path,
    output: str | Path,
    options: FinetuneOptions | None = None,
    *,
    notify: Notify = print,
) -> FinetuneResult:
    """Check the data, then fine-tune ``options.model`` on ``train`` into the folder ``output``.

    Raises :class:`DataCheckError` (before any step) when a manifest fails the check.
    """
    from ..ctc.model import resolve_device

    options = options or FinetuneOptions()
    options.check()
    output = Path(output)
    resume_from = _check_output(output, options.resume)
    device = resolve_device(options.device)
    if device == "cpu":
        import torch

        torch.set_num_threads(cpu_threads())
        notify(f"training on CPU with {torch.get_num_threads()} thread(s)")
    loaded, train_check, dev_check = check_manifests(train, options)
    name = loaded.name
    for check in (train_check, dev_check):
        if check is not None:
            notify(check.summary())
            for warning in check.warnings:
                notify(f"warning: {warning}")
    letters = dict(train_check.new_letters)
    for letter, count in (dev_check.new_letters if dev_check else {}).items():
        letters[letter] = letters.get(letter, 0) + count
    output.mkdir(parents=True, exist_ok=True)
    if letters:
        extend_head(loaded, sorted(letters), output / CHECKPOINTS / ".vocab")
        notify(f"warning: the CTC head is extended with {''.join(sorted(letters))!r}")
    prepare_model(loaded.model, options)
    result = FinetuneResult(
        output=output,
        base_model=name,
        base_revision=loaded.revision,
        train_hours=round(train_check.hours, 4),
        dev_hours=round(dev_check.hours, 4) if dev_check else None,
        new_letters=letters,
        options={k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
    )
    if resume_from is not None and (output / STATE_FILE).is_file():
        saved = json.loads((output / STATE_FILE).read_text("utf-8"))
        result.before, result.best = saved.get("before"), saved.get("best")
        result.history = saved.get("history", [])
    dev = dev_check.samples if dev_check else []
    dev_waves = [read_wave(s) for s in dev]
    if dev and result.before is None:
        result.before = dev_scores(loaded, dev, dev_waves)
        notify(f"dev before: WER {result.before['wer']:.1%} CER {result.before['cer']:.1%}")
    clips = _Clips(train_check.samples, [read_wave(s) for s in train_check.samples])
    run = _Run(loaded, options, output, result, dev, dev_waves, notify, _Clock(options.max_minutes))
    trainer = _make_trainer(run, clips, device, output / CHECKPOINTS)
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    if not dev:
        save_model(loaded, output)
    from .card import write_card

    write_card(result)
    run.save_state()
    return result


def _make_trainer(run: _Run, clips: _Clips, device: str, checkpoints: Path) -> Any:
    import torch
    from transformers import TrainingArguments

    options = run.options
    per_pass, accumulate = _batch_shape(clips.samples, options.batch_seconds, device)
    on_cuda = device.startswith("cuda")
    bf16 = on_cuda and torch.cuda.is_bf16_supported()
    args = TrainingArguments(
        output_dir=str(checkpoints),
        per_device_train_batch_size=per_pass,
        gradient_accumulation_steps=accumulate,
        learning_rate=options.lr,
        warmup_steps=options.warmup,
        max_steps=options.steps or -1,
        num_train_epochs=options.epochs or DEFAULT_EPOCHS,
        weight_decay=0.0,
        max_grad_norm=1.0,
        logging_steps=max(1, min(10, options.eval_every)),
        save_strategy="steps",
        save_steps=options.eval_every,
        save_total_limit=1,
        seed=options.seed,
        use_cpu=not on_cuda,
        bf16=bf16,
        fp16=on_cuda and not bf16,
        report_to=[],
        disable_tqdm=True,
        dataloader_num_workers=0,
        remove_unused_columns=False,
    )
    trainer = _trainer_class()(
        model=run.loaded.model,
        args=args,
        train_dataset=clips,
        data_collator=_Collator(run.loaded.feature_extractor, run.loaded.tokenizer),
        callbacks=_callbacks(run),
    )
    trainer.clock = run.clock
    from transformers import PrinterCallback, ProgressCallback

    for noisy in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(noisy)
    return trainer
