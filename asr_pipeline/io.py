"""Atomic file output: a reader never sees a half-written file.

Data goes to a temporary file in the target's folder, is flushed to disk, then renamed over the
target with :func:`os.replace` (atomic on POSIX and Windows). If writing fails or is interrupted,
the temporary file is removed and any earlier version of the target stays untouched.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_write(folder / "out.txt") as fp:
...     _ = fp.write("привет\\n")
>>> (folder / "out.txt").read_text(encoding="utf-8")
'привет\\n'
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write"]


def atomic_write(
    path: str | Path, *, binary: bool = False
) -> contextlib.AbstractContextManager[IO[Any]]:
    """Open ``path`` for writing through a temporary file that replaces it on success.

    Text mode writes UTF-8 with ``\\n`` line ends on every platform.
    """
    return _atomic_write(Path(path), binary)


@contextlib.contextmanager
def _atomic_write(path: Path, binary: bool) -> Iterator[IO[Any]]:
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        if binary:
            fp: IO[Any] = os.fdopen(fd, "wb")
        else:
            fp = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        with fp:
            yield fp
            fp.flush()
            os.fsync(fp.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _file_mode(path: Path) -> int:
    """The permissions a new file would get (mkstemp makes it private), or the target's own."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
