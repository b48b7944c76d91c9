"""Adapting a model to your audio: fine-tuning the acoustic model and building a language model.

>>> from asr_pipeline.train import FinetuneOptions, finetune            # doctest: +SKIP
>>> finetune("train.tsv", "my-model", FinetuneOptions(eval_manifest="dev.tsv"))  # doctest: +SKIP
>>> from asr_pipeline.train.lm import build_language_model             # doctest: +SKIP

Nothing heavy is imported here: torch and transformers load inside the functions that train.
"""

from __future__ import annotations

from .check import DataCheck, check_data
from .finetune import FinetuneOptions, FinetuneResult, finetune
from .text import Alphabet

__all__ = [
    "Alphabet",
    "DataCheck",
    "FinetuneOptions",
    "FinetuneResult",
    "check_data",
    "finetune",
]
