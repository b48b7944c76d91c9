"""The user vocabulary file: terms written exactly as they should appear.

One term per line (a term may hold several words), UTF-8; blank lines and lines starting with
``#`` are ignored. The casing stage copies the terms' capitals; the language model's hotwords
read the same file.

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "vocabulary.txt"
>>> _ = path.write_text("# brands\\nГазпром\\n\\niPhone\\n", encoding="utf-8")
>>> read_vocabulary(path)
('Газпром', 'iPhone')
"""

from __future__ import annotations

from pathlib import Path

from asr_pipeline.errors import ConfigError

__all__ = ["read_vocabulary"]


def read_vocabulary(path: str | Path) -> tuple[str, ...]:
    """The terms of a vocabulary file, in file order, without duplicates.

    Raises :class:`ConfigError` naming the file when it cannot be read as UTF-8 text.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ConfigError(
            f"cannot read the vocabulary file {str(path)!r}: {e.strerror or e}; "
            "give the path of a UTF-8 text file with one term per line",
            "vocabulary",
        ) from e
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"the vocabulary file {str(path)!r} is not UTF-8 text ({e.reason} at byte {e.start}); "
            "save it as UTF-8",
            "vocabulary",
        ) from e
    terms = (" ".join(line.split()) for line in text.splitlines())
    return tuple(dict.fromkeys(t for t in terms if t and not t.startswith("#")))
