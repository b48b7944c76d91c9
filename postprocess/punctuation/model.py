"""A fast tokenizer and a token-classification network, run over windows of tokens.

Imported only when the punctuation stage is built: this module imports torch and transformers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer

from asr_pipeline.errors import ConfigError, ModelError, ModelNotFoundError
from asr_pipeline.hub import ensure_reachable

__all__ = ["Encoded", "TokenClassifier", "resolve_device"]

_FOLDER_HINT = (
    "download it once on a connected machine (it is then cached), "
    "or pass a local folder with --set stages.punctuation.model=FOLDER"
)

_SAVED_HINT = (
    "the folder needs config.json, the weights and the tokenizer as save_pretrained writes them; "
    "fix it, or pass another folder with --set stages.punctuation.model=FOLDER"
)


@dataclass(frozen=True)
class Encoded:
    """One text's tokens without special tokens, and the word each token belongs to."""

    ids: list[int]
    word_ids: list[int | None]


def resolve_device(device: str) -> torch.device:
    """``auto`` is the first CUDA GPU when there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError) as e:
        raise ConfigError(
            f"unknown device '{device}' (use auto, cpu, cuda or cuda:N)",
            "stages.punctuation.device",
        ) from e
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "CUDA is not available on this machine; use device=cpu or auto",
            "stages.punctuation.device",
        )
    return resolved


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _keep_accents(tokenizer: Any) -> None:
    """Keep ``й`` and ``ё``: a lower-casing BERT normalizer strips accents unless told not to.

    Both Russian models this stage was written for load their tokenizer with
    ``strip_accents=False``; a config that leaves it unset would turn ``й`` into ``и``.
    """
    from tokenizers.normalizers import BertNormalizer

    normalizer = tokenizer.backend_tokenizer.normalizer
    if isinstance(normalizer, BertNormalizer) and normalizer.lowercase:
        if normalizer.strip_accents is None:
            normalizer.strip_accents = False


def _max_tokens(tokenizer: Any, config: Any) -> int | None:
    """The longest input the network takes (position embeddings, tokenizer limit)."""
    limits = []
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        # RoBERTa-style models start positions after the padding index.
        offset = 2 if "roberta" in str(getattr(config, "model_type", "")) else 0
        limits.append(positions - offset)
    declared = getattr(tokenizer, "model_max_length", None)
    if isinstance(declared, int) and 0 < declared < 1_000_000:
        limits.append(declared)
    return min(limits) if limits else None


class TokenClassifier:
    """Tokenize words and classify every token of windows, batched.

    ``network`` is any callable taking ``input_ids`` and ``attention_mask`` tensors and returning
    an object with ``logits`` of shape (batch, tokens, labels).
    """

    def __init__(
        self,
        tokenizer: Any,
        network: Any,
        device: torch.device,
        *,
        num_labels: int,
        allowed: Sequence[int] | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.network = network
        self.device = device
        self.num_labels = num_labels
        self.allowed = list(range(num_labels) if allowed is None else allowed)
        """Output indices that may be predicted (those with a known label)."""
        self.max_tokens = max_tokens
        self.prefix, self.suffix = self._special_tokens()
        pad = tokenizer.pad_token_id
        self.pad_id = pad if isinstance(pad, int) else 0

    @classmethod
    def load(cls, model: str, revision: str | None, device: torch.device) -> TokenClassifier:
        """Load tokenizer and network from a hub id or a folder; :class:`ModelError` if neither."""
        dtype = torch.float16 if device.type == "cuda" else torch.float32
        folder = Path(model).expanduser()
        if folder.is_dir():
            model = str(folder)
        elif model.startswith(("/", ".", "~")):
            raise ModelNotFoundError(
                f"stages.punctuation.model: no folder '{model}'; pass a folder holding the "
                "model's config.json, weights and tokenizer, or a hub id"
            )
        ensure_reachable(model, revision, option="--set stages.punctuation.model=FOLDER")
        try:
            tokenizer = AutoTokenizer.from_pretrained(model, revision=revision)
            network = AutoModelForTokenClassification.from_pretrained(
                model, revision=revision, dtype=dtype, trust_remote_code=False
            )
        except (OSError, ValueError, KeyError) as e:
            hint = _FOLDER_HINT if not folder.is_dir() else _SAVED_HINT
            raise ModelError(
                f"stages.punctuation.model: cannot load the token-classification model "
                f"'{model}' ({_first_line(e)}); {hint}"
            ) from e
        if not getattr(tokenizer, "is_fast", False):
            raise ModelError(
                f"stages.punctuation.model: '{model}' has no fast tokenizer (tokenizer.json); "
                "save one with transformers' PreTrainedTokenizerFast.save_pretrained"
            )
        _keep_accents(tokenizer)
        network.to(device).eval()
        config = network.config
        return cls(
            tokenizer,
            network,
            device,
            num_labels=int(config.num_labels),
            max_tokens=_max_tokens(tokenizer, config),
        )

    @property
    def config(self) -> Any:
        return getattr(self.network, "config", None)

    def _special_tokens(self) -> tuple[list[int], list[int]]:
        """The special tokens the tokenizer puts before and after a text (``[CLS]``, ``[SEP]``)."""
        probe = self.tokenizer(["а"], is_split_into_words=True, add_special_tokens=True)
        ids, words = probe["input_ids"], probe.word_ids()
        inside = [i for i, w in enumerate(words) if w is not None]
        if not inside:
            return [], []
        return list(ids[: inside[0]]), list(ids[inside[-1] + 1 :])

    @property
    def specials(self) -> int:
        return len(self.prefix) + len(self.suffix)

    def encode(self, texts: Sequence[Sequence[str]]) -> list[Encoded]:
        """Tokens of each text (a list of words), whole: windows are cut afterwards."""
        result = []
        for words in texts:
            if not words:
                result.append(Encoded([], []))
                continue
            encoding = self.tokenizer(
                list(words), is_split_into_words=True, add_special_tokens=False, verbose=False
            )
            result.append(Encoded(list(encoding["input_ids"]), list(encoding.word_ids())))
        return result

    def classify(self, windows: Sequence[Sequence[int]], batch_size: int) -> list[list[int]]:
        """The best allowed label index for every token of every window (specials added here).

        Windows are batched by length, so short ones (one line of text each) are padded little.
        """
        allowed = torch.tensor(self.allowed, dtype=torch.long)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        results: list[list[int]] = [[] for _ in windows]
        for first in range(0, len(order), batch_size):
            batch = order[first : first + batch_size]
            width = max(len(windows[i]) for i in batch) + self.specials
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                full = [*self.prefix, *windows[index], *self.suffix]
                ids[row, : len(full)] = torch.tensor(full, dtype=torch.long)
                mask[row, : len(full)] = 1
            with torch.inference_mode():
                logits = self.network(
                    input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
                ).logits
            best = allowed[logits.float().cpu()[..., allowed].argmax(-1)]
            start = len(self.prefix)
            for row, index in enumerate(batch):
                results[index] = best[row, start : start + len(windows[index])].tolist()
        return results
