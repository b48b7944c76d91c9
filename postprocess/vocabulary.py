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

from asr_pipeline.io import read_text_file

__all__ = ["read_vocabulary"]


def read_vocabulary(path: str | Path) -> tuple[str, ...]:
    """The terms of a vocabulary file, in file order, without duplicates.

    Raises :class:`ConfigError` naming the file when it is not a regular UTF-8 text file within
    :data:`~asr_pipeline.io.TEXT_FILE_LIMIT`.
    """
    text = read_text_file(path, where="vocabulary")
    terms = (" ".join(line.split()) for line in text.splitlines())
    return tuple(dict.fromkeys(t for t in terms if t and not t.startswith("#")))
