"""Russian inverse text normalization: spoken numbers in transcripts written as digits.

``normalize_numbers`` works on plain text, :class:`NumbersStage` on transcript words (a number
spoken over several words becomes one word timed from the first to the last). Both run the same
engine over a lexicon of number words built once from pymorphy3.
"""

from __future__ import annotations

from .stage import NumbersStage, normalize_numbers

__all__ = ["NumbersStage", "normalize_numbers"]
