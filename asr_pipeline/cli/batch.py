"""Batches of files: finding inputs, naming outputs, resuming, and going on past failures."""

import glob
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import executors
from ..executors import BatchResult, Item, Job, LocalExecutor, output_paths, run_job
from ..types import Transcript, Writer
from ..writers import get_writer, parse_formats
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
    items: Sequence[str],
    extensions: Iterable[str] = MEDIA_EXTENSIONS,
    *,
    manifest: Path | None = None,
) -> list[Path]:
    """Files from paths, folders (searched recursively for ``extensions``) and glob patterns,
    then those listed in ``manifest`` (see :func:`~asr_pipeline.evaluate.read_audio_list`).

    A file named directly is taken whatever its extension. Hidden files are skipped in folders.
    The same file reached twice is kept once. Raises :class:`InputError` naming the first
    path that does not exist or matches nothing.
    """
    wanted = {e.lower() for e in extensions}
    found: dict[Path, Path] = {}
    if manifest is not None:
        from ..evaluate.manifest import ManifestError, read_audio_list

        try:
            listed = read_audio_list(manifest)
        except ManifestError as e:
            raise InputError(str(e)) from None
        items = [*items, *map(str, listed)]
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


def plan(
    inputs: Sequence[Path], output_dir: Path, writers: Mapping[str, Writer], overwrite: bool
) -> tuple[list[Path], list[Path]]:
    """``(pending, skipped)`` as :func:`asr_pipeline.executors.plan`, refusals as InputError."""
    try:
        return executors.plan(inputs, output_dir, writers, overwrite)
    except executors.PlanError as e:
        raise InputError(str(e)) from None


def run_batch(
    pending: Sequence[Path],
    process: Callable[[Path], Transcript],
    writers: Mapping[str, Writer],
    output_dir: Path,
    *,
    verbose: bool = False,
    progress: bool | None = None,
    duration: Callable[[Path], float] | None = None,
) -> BatchResult:
    """Process and write every input in this process; a failure is reported and the batch
    goes on. ``progress`` (default: when stdout and stderr are terminals) shows a progress bar:
    files, and with ``duration`` (seconds of audio of an input) audio time done and an ETA.
    """
    job = Job(writers, output_dir, process=process, verbose=verbose)
    items = [Item(path, duration(path) if duration else 0.0) for path in pending]
    return run_job(LocalExecutor(), job, items, progress=progress)


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
