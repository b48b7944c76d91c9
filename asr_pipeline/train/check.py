"""The check before training: every text written in the model's alphabet, every clip usable.

>>> found = check_data("train.tsv", alphabet, frame_s=0.02)      # doctest: +SKIP
>>> found.errors, found.warnings, found.hours                    # doctest: +SKIP

Texts are normalised as ``eval`` scores them (the model's case, ``ё`` as ``е`` when the model
has no ``ё``, no punctuation). Hard errors: digits (training needs numbers written as spoken),
symbols the model cannot write, unreadable, empty, too short or too long audio. New letters are
a warning: fine-tuning extends the model's CTC head with them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AudioError
from ..evaluate.manifest import Entry, ManifestError, read_manifest
from .data import Sample
from .text import Alphabet

__all__ = ["MAX_SECONDS", "MIN_SECONDS", "DataCheck", "check_data"]

MIN_SECONDS = 0.3
MAX_SECONDS = 30.0
"""Clips outside these bounds are refused: too short to say anything, or too long for memory
(cut long recordings into clips with ``offset``/``duration``)."""
_SHOWN_LINES = 8


@dataclass
class DataCheck:
    """The outcome of checking one manifest."""

    manifest: Path
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    new_letters: dict[str, int] = field(default_factory=dict)
    """Letters the model cannot write yet, with their counts: the head is extended with them."""

    @property
    def seconds(self) -> float:
        return sum(s.duration for s in self.samples)

    @property
    def hours(self) -> float:
        return self.seconds / 3600

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """``train.tsv: 120 clips, 0.20 h (1-12 s)``, for the user."""
        if not self.samples:
            return f"{self.manifest}: no usable clip"
        lengths = [s.duration for s in self.samples]
        return (
            f"{self.manifest}: {len(self.samples)} clips, {self.hours:.2f} h "
            f"({min(lengths):.1f}-{max(lengths):.1f} s)"
        )


def _lines(numbers: Sequence[int]) -> str:
    shown = ", ".join(map(str, numbers[:_SHOWN_LINES]))
    more = f" and {len(numbers) - _SHOWN_LINES} more" if len(numbers) > _SHOWN_LINES else ""
    return f"line{'s' if len(numbers) > 1 else ''} {shown}{more}"


def check_data(
    manifest: str | Path,
    alphabet: Alphabet,
    *,
    frame_s: float = 0.02,
    min_s: float = MIN_SECONDS,
    max_s: float = MAX_SECONDS,
) -> DataCheck:
    """Check every line of a manifest (``eval``'s TSV/JSONL, NeMo clips); never raises for a bad
    line: each problem is listed in ``errors`` (with line numbers) or ``warnings``."""
    found = DataCheck(Path(manifest))
    try:
        entries = read_manifest(manifest)
    except ManifestError as e:
        found.errors.append(str(e))
        return found
    char_lines: dict[str, list[int]] = {}
    char_counts: Counter[str] = Counter()
    digit_lines: list[int] = []
    for entry in entries:
        target = alphabet.normalize(entry.text)
        unknown = alphabet.unknown(target)
        if any(c.isdigit() for c in unknown):
            digit_lines.append(entry.line)
        for char in unknown:
            if not char.isdigit():
                char_lines.setdefault(char, []).append(entry.line)
                char_counts[char] += target.count(char)
        sample = _sample(entry, target, frame_s, min_s, max_s, found.errors)
        if sample is not None and all(c.isalpha() for c in unknown):  # new letters are learnt
            found.samples.append(sample)
    where = found.manifest
    if digit_lines:
        found.errors.append(
            f"{where}: digits on {_lines(digit_lines)}: write numbers as they are spoken "
            "(двенадцать, not 12)"
        )
    for char, lines in sorted(char_lines.items(), key=lambda item: -char_counts[item[0]]):
        what = f"{char!r} ({char_counts[char]} time{'s' if char_counts[char] > 1 else ''})"
        if char.isalpha():
            found.new_letters[char] = char_counts[char]
            found.warnings.append(
                f"{where}: the letter {what} on {_lines(lines)} is not in the model's vocabulary: "
                "its CTC head will be extended (or fix the text if it is a typo)"
            )
        else:
            found.errors.append(
                f"{where}: the character {what} on {_lines(lines)} cannot be written by the "
                "model: replace it with words or remove it"
            )
    if not found.samples and not found.errors:
        found.errors.append(f"{where}: no usable clip")
    return found


def _sample(
    entry: Entry, target: str, frame_s: float, min_s: float, max_s: float, errors: list[str]
) -> Sample | None:
    """The entry's clip, or None with the reason appended to ``errors``."""
    from ..audio import probe

    if not target:
        errors.append(f"{entry.where}: the text is empty once normalised ({entry.text!r})")
        return None
    start, end = entry.span
    try:
        if not entry.path.is_file():
            raise AudioError(f"audio file not found: {entry.path}")
        file_s = probe(entry.path).duration
    except AudioError as e:
        errors.append(f"{entry.where}: {e}")
        return None
    end = file_s if end is None else end
    if end > file_s + 0.05:
        errors.append(
            f"{entry.where}: the clip {start:.2f}-{end:.2f} s ends after the audio "
            f"({file_s:.2f} s): {entry.path}"
        )
        return None
    end = min(end, file_s)
    seconds = end - start
    if seconds <= 0:
        errors.append(f"{entry.where}: empty audio: {entry.path}")
        return None
    # CTC needs a frame per character, and a blank between two equal ones.
    needed = (len(target) + sum(a == b for a, b in zip(target, target[1:], strict=False))) * frame_s
    if seconds < max(min_s, needed):
        errors.append(
            f"{entry.where}: too short: {seconds:.2f} s of audio for {len(target)} characters "
            f"(at least {max(min_s, needed):.2f} s): {entry.path}"
        )
        return None
    if seconds > max_s:
        errors.append(
            f"{entry.where}: too long: {seconds:.1f} s (at most {max_s:.0f} s): cut it into clips "
            f"(a JSONL manifest takes offset and duration): {entry.path}"
        )
        return None
    return Sample(entry, target, start, end)
