"""Batches of files: finding inputs, naming outputs, resuming, and going on past failures."""

import glob
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AsrPipelineError
from ..io import prepare_output_folder
from ..types import Transcript, Writer
from ..writers import get_writer, parse_formats, write_transcript
from .options import InputError, say

__all__ = [
    "MEDIA_EXTENSIONS",
    "BatchResult",
    "check_stems",
    "collect_inputs",
    "make_writers",
    "output_paths",
    "plan",
    "report",
    "run_batch",
]

MEDIA_EXTENSIONS = frozenset(
    "." + ext
    for ext in (
        "wav wave flac mp3 ogg oga opus m4a aac wma aif aiff aifc amr caf mka wv webm "
        "mp4 m4v mkv mov avi wmv flv mpg mpeg ts mts 3gp"
    ).split()
)
"""Audio and video file extensions picked up when a folder is given."""

_GLOB_CHARS = frozenset("*?[")


def collect_inputs(
    items: Sequence[str], extensions: Iterable[str] = MEDIA_EXTENSIONS
) -> list[Path]:
    """Files from paths, folders (searched recursively for ``extensions``) and glob patterns.

    A file named directly is taken whatever its extension. Hidden files are skipped in folders.
    The same file reached twice is kept once. Raises :class:`InputError` naming the first
    path that does not exist or matches nothing.
    """
    wanted = {e.lower() for e in extensions}
    found: dict[Path, Path] = {}
    for item in items:
        path = Path(item)
        if path.is_file():
            files = [path]
        elif path.is_dir():
            files = _search(path, wanted)
            if not files:
                kinds = ", ".join(sorted(wanted))
                raise InputError(f"{item}: no files with a known extension here ({kinds})")
        elif _GLOB_CHARS & set(item):
            files = []
            for match in sorted(Path(m) for m in glob.glob(item, recursive=True)):
                files += [match] if match.is_file() else _search(match, wanted)
            if not files:
                raise InputError(f"{item}: no files match this pattern")
        else:
            raise InputError(f"{item}: no such file or folder")
        for file in files:
            found.setdefault(file.resolve(), file)
    if not found:
        raise InputError("no input files given")
    return list(found.values())


def _search(folder: Path, extensions: set[str]) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in extensions
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def check_stems(inputs: Sequence[Path]) -> None:
    """Refuse inputs whose outputs would share a name (``a/talk.wav`` and ``b/talk.mp3``)."""
    groups: dict[str, list[Path]] = {}
    for path in inputs:
        groups.setdefault(path.stem.casefold(), []).append(path)
    clashes = [paths for paths in groups.values() if len(paths) > 1]
    if clashes:
        described = "; ".join(" and ".join(str(p) for p in paths) for paths in clashes)
        raise InputError(
            f"inputs would write outputs of the same name: {described}; "
            "rename one or run them separately"
        )


def output_paths(source: Path, output_dir: Path, writers: Mapping[str, Writer]) -> dict[str, Path]:
    """``<output-dir>/<input stem>.<extension>`` for every format."""
    return {fmt: output_dir / f"{source.stem}.{w.extension}" for fmt, w in writers.items()}


def make_writers(
    formats: str, options: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Writer]:
    """Writers for ``"txt,srt"`` with their options from the config's ``writers`` section.

    Refuses unknown formats (with a did-you-mean) and two formats writing one extension.
    """
    writers = {fmt: get_writer(fmt, (options or {}).get(fmt)) for fmt in parse_formats(formats)}
    seen: dict[str, str] = {}
    for fmt, writer in writers.items():
        other = seen.setdefault(writer.extension.lower(), fmt)
        if other != fmt:
            raise InputError(f"formats '{other}' and '{fmt}' both write .{writer.extension} files")
    return writers


@dataclass
class BatchResult:
    """What a batch did with each input."""

    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def plan(
    inputs: Sequence[Path], output_dir: Path, writers: Mapping[str, Writer], overwrite: bool
) -> tuple[list[Path], list[Path]]:
    """``(pending, skipped)``: inputs whose outputs all exist are skipped unless ``overwrite``.

    Raises :class:`InputError` when an output would replace its own input.
    """
    pending, skipped = [], []
    for source in inputs:
        outputs = output_paths(source, output_dir, writers).values()
        for out in outputs:
            if out.exists() and out.resolve() == source.resolve():
                raise InputError(f"{source}: the output would replace this input; choose -o DIR")
        if not overwrite and all(out.exists() for out in outputs):
            skipped.append(source)
        else:
            pending.append(source)
    return pending, skipped


def run_batch(
    pending: Sequence[Path],
    process: Callable[[Path], Transcript],
    writers: Mapping[str, Writer],
    output_dir: Path,
    *,
    verbose: bool = False,
    progress: bool | None = None,
) -> BatchResult:
    """Process and write every input; a failure is reported and the batch goes on.

    ``progress`` (default: when stdout and stderr are terminals) shows a progress bar.
    """
    result = BatchResult()
    if writers:
        prepare_output_folder(output_dir)
    if progress is None:
        progress = sys.stdout.isatty() and sys.stderr.isatty()
    with _progress(len(pending), progress) as (advance, show):
        for source in pending:
            advance(source.name)
            try:
                transcript = process(source)
                for fmt, out in output_paths(source, output_dir, writers).items():
                    write_transcript(transcript, out, writers[fmt])
            except Exception as e:
                if verbose:
                    traceback.print_exc()
                message = str(e) if isinstance(e, AsrPipelineError) else f"{type(e).__name__}: {e}"
                message = " ".join(message.split())
                if str(source) not in message:
                    message = f"{source}: {message}"
                result.failed.append((source, message))
                show(f"failed: {message}")
            else:
                result.done.append(source)
        advance(None)
    return result


@contextmanager
def _progress(
    total: int, enabled: bool
) -> Iterator[tuple[Callable[[str | None], None], Callable[[str], None]]]:
    """``(advance, show)``: ``advance(name)`` starts the next item (None: all done) and
    ``show(line)`` prints above the bar."""
    if not enabled:
        yield (lambda name: None), say
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True, highlight=False)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("", total=total)
        started = False

        def advance(name: str | None) -> None:
            nonlocal started
            if started:
                bar.advance(task)
            started = True
            bar.update(task, description=name or "done")

        yield advance, lambda line: console.print(line, markup=False, soft_wrap=True)


def report(result: BatchResult, verb: str, output_dir: Path) -> None:
    """A summary line on stderr, then every failure; exits 1 when anything failed."""
    import typer

    parts = [f"{verb} {len(result.done)} into {output_dir}"]
    if result.skipped:
        parts.append(f"skipped {len(result.skipped)} (outputs exist; --overwrite redoes them)")
    if result.failed:
        parts.append(f"failed {len(result.failed)}")
    say(", ".join(parts))
    for _, message in result.failed:
        say(f"  {message}")
    if result.failed:
        raise typer.Exit(1)
