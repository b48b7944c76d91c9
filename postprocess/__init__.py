"""Russian text stages for transcripts: numbers, punctuation, casing.

Importable without torch; model-based stages import their libraries when built.
"""

from __future__ import annotations

from typing import Any

__all__ = ["normalize_numbers"]


def normalize_numbers(text: str, *, style: str = "editorial") -> str:
    """Spoken Russian numbers to digits: ``"двадцать пятого мая"`` -> ``"25 мая"``."""
    from .numbers import normalize_numbers as _normalize

    return _normalize(text, style=style)


def __getattr__(name: str) -> Any:
    raise AttributeError(f"module 'postprocess' has no attribute '{name}'")
