"""Files in and out: atomic writes, and bounded reads of the files a config names.

Atomic file output: a reader never sees a half-written file.

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
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import ConfigError, OutputError

__all__ = [
    "TEXT_FILE_LIMIT",
    "atomic_write",
    "prepare_output_folder",
    "read_text_file",
    "regular_file",
]

TEXT_FILE_LIMIT = 64 * 2**20
"""The largest text file a config may name (vocabulary, hotwords, unigrams...): 64 MiB."""


def atomic_write(
    path: str | Path, *, binary: bool = False
) -> contextlib.AbstractContextManager[IO[Any]]:
    """Open ``path`` for writing through a temporary file that replaces it on success.

    Text mode writes UTF-8 with ``\\n`` line ends on every platform. An :class:`OSError` on
    the way (a full disk, no permission) becomes :class:`OutputError` naming ``path``.
    """
    return _atomic_write(Path(path), binary)


@contextlib.contextmanager
def _atomic_write(path: Path, binary: bool) -> Iterator[IO[Any]]:
    try:
        with _replacing(path, binary) as fp:
            yield fp
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(f"{path}: cannot write: {e.strerror or e}") from e


@contextlib.contextmanager
def _replacing(path: Path, binary: bool) -> Iterator[IO[Any]]:
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


def regular_file(path: str | Path, *, limit: int | None, where: str | None = None) -> Path:
    """``path`` when it names a regular file of at most ``limit`` bytes (None: any size).

    Anything else raises :class:`ConfigError` at ``where`` naming the file: a device such as
    /dev/zero never ends and a FIFO blocks for ever, so neither is opened.
    """
    file = Path(path).expanduser()
    try:
        mode = file.stat()
    except FileNotFoundError as e:
        raise ConfigError(f"no such file: {file}", where) from e
    except OSError as e:
        raise ConfigError(f"cannot read {str(file)!r}: {e.strerror or e}", where) from e
    if stat.S_ISDIR(mode.st_mode):
        raise ConfigError(f"{str(file)!r} is a folder; give the path of a file", where)
    if not stat.S_ISREG(mode.st_mode):
        raise ConfigError(
            f"{str(file)!r} is not a regular file (a device, pipe or socket); give a file", where
        )
    if limit is not None and mode.st_size > limit:
        raise ConfigError(
            f"{str(file)!r} has {mode.st_size} bytes, more than the limit of {limit}", where
        )
    return file


def read_text_file(
    path: str | Path, *, where: str | None = None, limit: int = TEXT_FILE_LIMIT
) -> str:
    """The UTF-8 text (a byte-order mark dropped) of a regular file of at most ``limit`` bytes;
    :class:`ConfigError` at ``where`` naming the file otherwise."""
    file = regular_file(path, limit=limit, where=where)
    try:
        with file.open("rb") as fp:
            data = fp.read(limit + 1)  # the file may have grown since it was looked at
    except OSError as e:
        raise ConfigError(f"cannot read {str(file)!r}: {e.strerror or e}", where) from e
    if len(data) > limit:
        raise ConfigError(f"{str(file)!r} has more than the limit of {limit} bytes", where)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{str(file)!r} is not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8",
            where,
        ) from e


STALE_PART_S = 60.0
"""Age after which a temporary file of :func:`atomic_write` is a leftover of a killed run:
writing a transcript takes well under a second."""
_PART_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.part")
"""The names :func:`atomic_write`'s temporary files take: ``.NAME.XXXXXXXX.part``."""


def prepare_output_folder(folder: str | Path) -> None:
    """Make ``folder``, check that files can be written there, and remove the temporary files
    a killed run of :func:`atomic_write` left behind (only names of that pattern, older than
    :data:`STALE_PART_S`).

    Run it before any work whose results go there: :class:`OutputError` names the folder when
    it is a file, cannot be made, or is not writable or full.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: is a file, not a folder; give the output folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{folder}: cannot make the output folder: {e.strerror or e}") from e
    _remove_stale_parts(folder)
    try:
        with atomic_write(folder / ".asr-pipeline-probe", binary=True) as fp:
            fp.write(bytes(4096))  # a full disk shows here, at the latest at fsync
        (folder / ".asr-pipeline-probe").unlink()
    except OSError as e:
        cause = e.__cause__ if isinstance(e, OutputError) and e.__cause__ else e
        why = getattr(cause, "strerror", None) or cause
        raise OutputError(f"{folder}: cannot write into the output folder: {why}") from e


def _remove_stale_parts(folder: Path) -> None:
    cutoff = time.time() - STALE_PART_S
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if _PART_NAME.fullmatch(entry.name):
                with contextlib.suppress(OSError):
                    if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
