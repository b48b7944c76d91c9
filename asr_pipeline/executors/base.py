"""What every executor shares: the work plan, one file's processing, and the run's records.

An executor maps a :class:`Job` over :class:`Item` s and yields one :class:`Outcome` per item as
it finishes, in any order. Everything else (which inputs to skip, output names, longest-first
ordering, progress, ``_failures.jsonl`` and ``_runs.jsonl``) lives here, so every executor
follows the same rules.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import AsrPipelineError, AudioError, StageError
from ..evaluate.recognize import read_span
from ..evaluate.speakers import speaker_turns
from ..io import atomic_write, prepare_output_folder
from ..types import Transcript, Writer
from ..writers import write_transcript

if TYPE_CHECKING:
    from ..config import PipelineConfig
    from .progress import BatchProgress

__all__ = [
    "FAILURES_FILE",
    "RUNS_FILE",
    "BatchResult",
    "Executor",
    "Item",
    "Job",
    "Outcome",
    "by_duration",
    "output_paths",
    "plan",
    "process_file",
    "run_job",
]

FAILURES_FILE = "_failures.jsonl"
"""In the output folder: one JSON line (path, stage, message) per input that failed."""
RUNS_FILE = "_runs.jsonl"
"""In the output folder: one JSON line per run (config hash, counts, audio hours, timing)."""


class PlanError(AsrPipelineError, ValueError):
    """Inputs and outputs that cannot go together (an output would replace its input)."""


def output_paths(source: Path, output_dir: Path, writers: Mapping[str, Writer]) -> dict[str, Path]:
    """``<output-dir>/<input stem>.<extension>`` for every format."""
    return {fmt: output_dir / f"{source.stem}.{w.extension}" for fmt, w in writers.items()}


def plan(
    inputs: Sequence[Path], output_dir: Path, writers: Mapping[str, Writer], overwrite: bool
) -> tuple[list[Path], list[Path]]:
    """``(pending, skipped)``: inputs whose outputs all exist are skipped unless ``overwrite``.

    A failed input has no outputs, so a rerun redoes it. Raises :class:`PlanError` when an
    output would replace its own input.
    """
    pending, skipped = [], []
    for source in inputs:
        outputs = output_paths(source, output_dir, writers).values()
        for out in outputs:
            if out.exists() and out.resolve() == source.resolve():
                raise PlanError(f"{source}: the output would replace this input; choose -o DIR")
        if not overwrite and all(out.exists() for out in outputs):
            skipped.append(source)
        else:
            pending.append(source)
    return pending, skipped


Span = tuple[float, float | None]
"""``(start, end)`` in seconds of a file; end None is the file's end."""


@dataclass(frozen=True)
class Item:
    """One input and its audio duration in seconds (0 when it cannot be read)."""

    path: Path
    duration: float = 0.0
    span: Span | None = None
    """Only this span of the file (an eval manifest's offset/duration); None: all of it."""


def by_duration(paths: Iterable[Path]) -> list[Item]:
    """Items longest first, so that long files start early and none finishes last alone.

    A file whose duration cannot be read goes last; its own run reports why.
    """
    from .progress import audio_duration

    items = [Item(path, audio_duration(path)) for path in paths]
    return sorted(items, key=lambda item: -item.duration)


@dataclass(frozen=True)
class Outcome:
    """What became of one item. ``stage`` and ``message`` are set when it failed."""

    path: Path
    audio_s: float = 0.0
    seconds: float = 0.0
    """Processing time of the pipeline alone (writing excluded)."""
    stage: str | None = None
    message: str | None = None
    text: str | None = None
    """The transcript's text, kept only when the job writes no files."""
    metadata: dict[str, Any] | None = None
    """Model, revision, config hash and stages, kept only when the job writes no files."""
    span: Span | None = None
    """The item's span, which tells apart outcomes of one file's spans."""
    turns: list[tuple[str, float, float]] | None = None
    """Speaker turns ``(speaker, start, end)``, kept only when the job writes no files."""
    started_at: float | None = None
    """When the file's work began (seconds since the epoch, the worker's clock): with the
    outcomes' ``seconds`` it shows when workers were busy (``benchmarks/bench_scale.py``)."""

    @property
    def ok(self) -> bool:
        return self.message is None

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "path": str(self.path)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Outcome:
        data = json.loads(text)
        span = tuple(data["span"]) if data.get("span") is not None else None
        turns = [tuple(turn) for turn in data["turns"]] if data.get("turns") is not None else None
        return cls(**{**data, "path": Path(data["path"]), "span": span, "turns": turns})


@dataclass(frozen=True)
class Job:
    """The work done on every file: a pipeline (built once per worker) and where outputs go.

    ``config`` builds the pipeline in each worker; ``process`` (local executor only) is a
    ready-made ``Path -> Transcript`` used instead. With ``output_dir`` None nothing is written
    and each outcome keeps the transcript's text.
    """

    writers: Mapping[str, Writer] = field(default_factory=dict)
    output_dir: Path | None = None
    config: PipelineConfig | None = None
    process: Callable[[Path], Transcript] | None = None
    verbose: bool = False
    then: Callable[[Transcript], object] | None = None
    """Run on each transcript where it was made, before its outputs are written (``annotate``
    cuts its clips there); picklable, for Ray's workers."""

    def build(self) -> Callable[[Path], Transcript]:
        """The ``Path -> Transcript`` function a worker runs."""
        if self.process is not None:
            return self.process
        from ..pipeline import Pipeline

        return Pipeline(self.config)


def process_file(job: Job, process: Callable[[Path], Transcript], item: Item) -> Outcome:
    """Run one file and write its outputs atomically; any failure becomes the outcome."""
    started_at = time.time()
    return dataclasses.replace(_process_file(job, process, item), started_at=started_at)


def _process_file(job: Job, process: Callable[[Path], Transcript], item: Item) -> Outcome:
    source = item.path
    started = time.perf_counter()
    stage = "pipeline"
    try:
        transcript = process(source if item.span is None else read_span(source, item.span))
        if job.then is not None:
            stage = getattr(job.then, "stage", "then")
            job.then(transcript)
        seconds = time.perf_counter() - started
        stage = "write"
        if job.output_dir is not None:
            for fmt, out in output_paths(source, job.output_dir, job.writers).items():
                write_transcript(transcript, out, job.writers[fmt])
    except Exception as e:
        if job.verbose:
            traceback.print_exc()
        if isinstance(e, StageError):
            stage = e.stage
        elif isinstance(e, AudioError):
            stage = "read"
        seconds = time.perf_counter() - started
        message = failure_message(source, e)
        return Outcome(source, item.duration, seconds, stage, message, span=item.span)
    audio_s = transcript.duration or item.duration
    if job.output_dir is not None:
        return Outcome(source, audio_s, seconds, span=item.span)
    meta = transcript.metadata
    metadata = {
        "model": meta.model,
        "revision": meta.revision,
        "config_hash": meta.config_hash,
        "stages": list(meta.stages),
    }
    turns = speaker_turns(transcript)
    return Outcome(
        source,
        audio_s,
        seconds,
        text=transcript.text,
        metadata=metadata,
        span=item.span,
        turns=turns,
    )


def failure_message(source: Path, error: BaseException) -> str:
    """One line naming the file and what went wrong."""
    if isinstance(error, AsrPipelineError):
        message = str(error)
    else:
        message = f"{type(error).__name__}: {error}"
    message = " ".join(message.split())
    return message if str(source) in message else f"{source}: {message}"


class Executor(Protocol):
    """Runs a job over items, yielding each outcome as it finishes (in any order), and tells
    ``progress`` when each file starts (with its audio progress where it can) and finishes."""

    name: str
    workers: int

    def map(
        self, job: Job, items: Sequence[Item], progress: BatchProgress
    ) -> Iterator[Outcome]: ...


@dataclass
class BatchResult:
    """What a batch did with each input."""

    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def audio_s(self) -> float:
        """Seconds of audio in the files done."""
        return sum(o.audio_s for o in self.outcomes if o.ok)


def run_job(
    executor: Executor,
    job: Job,
    items: Sequence[Item],
    *,
    skipped: Sequence[Path] = (),
    progress: bool | None = None,
    record: bool = False,
) -> BatchResult:
    """Run ``items`` on ``executor``, showing progress; a failed file never stops the batch.

    ``progress`` (default: when stdout and stderr are terminals) shows a bar of files and
    audio done with an ETA; failures are printed as they come. With ``record``, the output
    folder gets the run's failures (:data:`FAILURES_FILE`) and a line in :data:`RUNS_FILE`,
    also when the run is interrupted, but not when it fails before any file is done.
    """
    from .progress import BatchProgress

    result = BatchResult(skipped=list(skipped))
    if job.output_dir is not None:
        prepare_output_folder(job.output_dir)
    if progress is None:
        progress = sys.stdout.isatty() and sys.stderr.isatty()
    audio_s = sum(item.duration for item in items)
    started = time.perf_counter()
    never_ran = False
    try:
        with BatchProgress(len(items), audio_s, enabled=progress) as bar:
            for outcome in executor.map(job, items, bar):
                result.outcomes.append(outcome)
                if outcome.ok:
                    result.done.append(outcome.path)
                else:
                    result.failed.append((outcome.path, outcome.message or ""))
    except Exception:
        never_ran = not result.outcomes  # a model that cannot load: no run to record
        raise
    finally:
        result.wall_s = time.perf_counter() - started
        if record and job.output_dir is not None and not never_ran:
            write_records(job, executor, result, attempted=[i.path for i in items])
    return result


def write_records(
    job: Job, executor: Executor, result: BatchResult, attempted: Sequence[Path]
) -> None:
    """Rewrite ``_failures.jsonl`` and append this run to ``_runs.jsonl``.

    Failures of earlier runs stay listed unless this run attempted their file again.
    """
    assert job.output_dir is not None
    tried = {str(path) for path in attempted}
    failures_path = job.output_dir / FAILURES_FILE
    kept = [line for line in _lines(failures_path) if json.loads(line)["path"] not in tried]
    for o in result.outcomes:
        if not o.ok:
            failure = {"path": str(o.path), "stage": o.stage, "message": o.message}
            kept.append(json.dumps(failure, ensure_ascii=False))
    if kept or failures_path.exists():
        with atomic_write(failures_path) as fp:
            fp.writelines(line + "\n" for line in kept)
    from .. import __version__

    hours = result.audio_s / 3600
    run = {
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "executor": executor.name,
        "workers": executor.workers,
        "config_hash": job.config.hash if job.config else None,
        "pipeline": list(job.config.pipeline) if job.config else None,
        "version": __version__,
        "done": len(result.done),
        "failed": len(result.failed),
        "skipped": len(result.skipped),
        "interrupted": len(result.outcomes) < len(attempted),
        "audio_hours": round(hours, 6),
        "wall_s": round(result.wall_s, 3),
        "throughput": round(hours / (result.wall_s / 3600), 3) if result.wall_s else None,
    }
    runs_path = job.output_dir / RUNS_FILE
    with atomic_write(runs_path) as fp:
        fp.writelines(line + "\n" for line in _lines(runs_path))
        fp.write(json.dumps(run, ensure_ascii=False) + "\n")


def _lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except FileNotFoundError:
        return []
