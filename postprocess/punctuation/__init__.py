"""Punctuation restoration for Russian transcripts, keeping word timings.

A token-classification model (``kontur-ai/sbert_punc_case_ru`` by default) labels every word of
the transcript; the label's mark is attached to the word it follows and, for CASE_PUNCT models,
its case is applied. torch and transformers are imported only when the stage is built.
"""

from __future__ import annotations

from .labels import LabelScheme, WordLabel, parse_labels
from .stage import DEFAULT_MODEL, PunctuationStage
from .text import apply_label, model_input
from .windows import pick_windows, plan_windows

__all__ = [
    "DEFAULT_MODEL",
    "LabelScheme",
    "PunctuationStage",
    "WordLabel",
    "apply_label",
    "model_input",
    "parse_labels",
    "pick_windows",
    "plan_windows",
]
