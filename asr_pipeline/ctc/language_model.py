"""Language-model files for beam search: where they are, their words and their weights.

A language model is a KenLM file (``.binary`` or ``.arpa``), optionally with ``unigrams.txt``
(its words, one a line) and ``attrs.json`` (pyctcdecode's weights: ``alpha``, ``beta``,
``unk_score_offset``, ``score_boundary``), laid out as a ``language_model/`` folder the way
pyctcdecode saves it and the default model ships it. Nothing heavy is imported here.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelError
from ..io import read_text_file, regular_file

__all__ = [
    "LM_SUFFIXES",
    "LanguageModelFiles",
    "check_coverage",
    "explicit_language_model",
    "model_language_model",
    "read_language_model_folder",
    "read_unigrams",
    "unigrams_of",
    "words_case",
]

LM_SUFFIXES = (".binary", ".bin", ".arpa")
"""Language-model files KenLM reads, in order of preference."""
_WHERE = "stages.ctc"
UNIGRAMS_LIMIT = 512 * 2**20
"""The largest unigrams file read: 512 MiB (a few million words)."""


@dataclass(frozen=True)
class LanguageModelFiles:
    """A KenLM model file, its known words and its decoding weights."""

    model: Path
    unigrams: Path | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


def read_language_model_folder(folder: Path) -> LanguageModelFiles | None:
    """The files of a ``language_model/`` folder as pyctcdecode saves it (None without a KenLM
    file)."""
    if not folder.is_dir():
        return None
    candidates = [
        path
        for suffix in LM_SUFFIXES
        for path in sorted(folder.glob(f"*{suffix}"))
        if path.is_file() and not path.name.startswith(".")
    ]
    if not candidates:
        return None
    unigrams = folder / "unigrams.txt"
    return LanguageModelFiles(
        candidates[0], unigrams if unigrams.is_file() else None, _read_attrs(folder / "attrs.json")
    )


def _read_attrs(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        attrs = json.loads(read_text_file(path, limit=2**20))
    except (ConfigError, ValueError) as e:
        raise ModelError(f"cannot read {path}: {e}") from e
    if not isinstance(attrs, dict):
        raise ModelError(f"{path}: expected a JSON object of decoding weights")
    return attrs


def explicit_language_model(lm: str, unigrams: str | None) -> LanguageModelFiles:
    """The files of the ``lm`` option: a KenLM file, or a folder laid out like
    ``language_model/``; ``unigrams`` replaces the words found beside it."""
    path = Path(lm).expanduser()
    if path.is_dir():
        found = read_language_model_folder(path)
        if found is None:
            raise ConfigError(
                f"no {', '.join(LM_SUFFIXES)} file in the folder {lm}", f"{_WHERE}.lm"
            )
    else:
        path = regular_file(path, limit=None, where=f"{_WHERE}.lm")
        if path.suffix not in LM_SUFFIXES:
            raise ConfigError(
                f"{lm}: expected a KenLM model ({', '.join(LM_SUFFIXES)})", f"{_WHERE}.lm"
            )
        found = LanguageModelFiles(path, None, _read_attrs(path.parent / "attrs.json"))
    if unigrams is not None:
        found = LanguageModelFiles(found.model, Path(unigrams).expanduser(), found.attrs)
    return found


def model_language_model(model: str, revision: str | None) -> LanguageModelFiles:
    """The ``language_model/`` folder of a model folder or hub repository (downloaded once)."""
    local = Path(model).expanduser()
    if local.is_dir():
        folder = local / "language_model"
    else:
        folder = _hub_language_model(model, revision)
    found = read_language_model_folder(folder)
    if found is None:
        where = (
            ""
            if local.is_dir()
            else (" in the local cache (run `asr-pipeline models download` with network access)")
        )
        raise ModelError(
            f"model '{model}' has no language model{where}: a language_model/ folder with a "
            f"{'/'.join(LM_SUFFIXES)} file; give one with stages.ctc.lm, or use decoder: greedy"
        )
    return found


def _hub_language_model(model: str, revision: str | None) -> Path:
    from huggingface_hub import snapshot_download

    try:
        snapshot = snapshot_download(model, revision=revision, allow_patterns=["language_model/*"])
    except Exception as e:
        from ..models import hub_unreachable

        if hub_unreachable(e):
            raise ModelError(
                f"the language model of '{model}' could not be downloaded and is not in the "
                "local cache: run `asr-pipeline models download` with network access, or give "
                "a local file with stages.ctc.lm"
            ) from e
        raise ModelError(f"cannot fetch the language model of '{model}': {e}") from e
    return Path(snapshot) / "language_model"


def read_unigrams(path: Path) -> list[str]:
    """The words of a unigrams file, one per line."""
    text = read_text_file(path, where=f"{_WHERE}.unigrams", limit=UNIGRAMS_LIMIT)
    return [word for word in (line.strip() for line in text.splitlines()) if word]


def unigrams_of(files: LanguageModelFiles | None) -> list[str] | None:
    """The language model's words: its unigrams file, else an ARPA file's 1-grams; None (with a
    warning) for a binary model without unigrams, whose unknown words may be glued together."""
    if files is None:
        return None
    if files.unigrams is not None:
        return read_unigrams(files.unigrams)
    if files.model.suffix == ".arpa":
        return _arpa_unigrams(files.model)
    warnings.warn(
        f"{files.model}: no unigrams.txt beside the language model; words it does not know "
        "may be glued together: give stages.ctc.unigrams",
        stacklevel=3,
    )
    return None


def _arpa_unigrams(path: Path) -> list[str]:
    """The words of an ARPA file's 1-gram section."""
    words = []
    with regular_file(path, limit=None, where=f"{_WHERE}.lm").open(encoding="utf-8") as lines:
        inside = False
        for line in lines:
            line = line.strip()
            if line == "\\1-grams:":
                inside = True
            elif inside and line.startswith("\\"):
                break
            elif inside and line:
                parts = line.split("\t")
                if len(parts) >= 2 and parts[1] not in ("<s>", "</s>", "<unk>"):
                    words.append(parts[1])
    return words


SAMPLE_WORDS = 20_000
"""Words looked at (spread over the list) to judge a language model's case and alphabet."""


def _sample(words: Sequence[str]) -> Sequence[str]:
    step = max(1, len(words) // SAMPLE_WORDS)
    return words[::step]


def words_case(words: Sequence[str]) -> str:
    """``upper`` when most letters of (a sample of) ``words`` are capitals, else ``lower``."""
    letters = "".join(_sample(words))
    upper = sum(c.isupper() for c in letters)
    lower = sum(c.islower() for c in letters)
    return "upper" if upper > lower else "lower"


def check_coverage(labels: Sequence[str], words: Sequence[str], source: Path) -> None:
    """Warn when more than 2 % of the letters of (a sample of) the language model's words are
    ones the acoustic model never emits."""
    counts = Counter("".join(_sample(words)))
    total = sum(counts.values())
    known = set(labels)
    missing = {c: n for c, n in counts.items() if c not in known}
    if total and sum(missing.values()) / total > 0.02:
        shown = "".join(sorted(missing, key=missing.__getitem__, reverse=True)[:10])
        warnings.warn(
            f"{source}: {sum(missing.values()) / total:.0%} of the language model's letters "
            f"({shown!r}) are not in the acoustic model's alphabet; words with them can never be "
            "recognised: check that the lm and the model use the same alphabet",
            stacklevel=3,
        )
