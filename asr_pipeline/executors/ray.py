"""The Ray executor: Ray Data batch inference over an actor pool, on one machine or a cluster.

Each pool actor builds the pipeline once and processes one group of files per call, writing
their outputs into the output folder itself (a shared filesystem on a cluster). Files go out
longest first, a long file alone and short ones in groups of about a minute of audio (one block
each), so memory stays bounded, no long file starts last, and short files do not pay a round
trip each. An actor whose process dies is restarted and its group retried, up to ``retries``
times; then its unfinished files are recorded as failed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import AsrPipelineError, MissingDependencyError
from ..models import check_model_folders
from .base import Item, Job, Outcome, process_file

if TYPE_CHECKING:
    from .progress import BatchProgress

__all__ = ["RayExecutor"]

DEFAULT_RETRIES = 2
"""Times a file is retried after its worker process died on it."""
GROUP_S = 60.0
"""Short files travel to a worker in groups of about this much audio: a worker's round trip
costs tens of milliseconds, which a one-sentence file would pay again and again."""
GROUP_FILES = 32
"""The most files in a group (when their durations are unknown, say)."""


class RayExecutor:
    """Runs files on a Ray actor pool of ``workers`` actors.

    ``address``: None starts a local Ray cluster on this machine (stopped afterwards);
    ``auto`` joins the cluster started here with ``ray start``; ``ray://HOST:PORT`` connects to a
    remote one. A Ray already initialised in this process is used as it is.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int = 1,
        cpus_per_worker: float = 1.0,
        gpus_per_worker: float = 0.0,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        if workers < 1:
            raise ValueError("expected at least 1 worker")
        _ray()  # a missing extra is reported before any work
        self.address = address
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self.gpus_per_worker = gpus_per_worker
        self.retries = retries
        self.startup_s = 0.0
        """Seconds spent starting or joining the Ray cluster in the last :meth:`map`."""

    def map(self, job: Job, items: Sequence[Item], progress: BatchProgress) -> Iterator[Outcome]:
        """Outcomes as workers finish files; ``progress`` hears of each file as it comes back
        (audio progress inside a file stays in its worker)."""
        for outcome in self._outcomes(job, items):
            progress.start(outcome.path.name, outcome.audio_s)
            progress.finish(outcome.path.name, outcome.message)
            yield outcome

    def _outcomes(self, job: Job, items: Sequence[Item]) -> Iterator[Outcome]:
        if not items:
            return
        if job.config is None:
            raise ValueError("the Ray executor builds the pipeline from a config")
        check_model_folders(job.config)  # a mistyped folder is reported before Ray starts
        ray = _ray()
        loggers = [logging.getLogger(name) for name in ("ray", "ray.data")]
        levels = [logger.level for logger in loggers]
        if not job.verbose:  # Ray's notices, progress lines and tracebacks would bury ours
            for logger in loggers:
                logger.setLevel(logging.CRITICAL)
        started = time.perf_counter()
        owned = not ray.is_initialized()
        try:
            if owned:
                self._start(ray)
            self.startup_s = time.perf_counter() - started
            yield from self._run(ray, job, items)
        finally:
            if owned:
                ray.shutdown()
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)

    def _start(self, ray: Any) -> None:
        try:
            ray.init(**self._init_args())
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray cluster"
            hint = "; start one with ray start --head" if self.address == "auto" else ""
            reason = " ".join(str(e).split())
            raise AsrPipelineError(f"cannot start or reach {where} ({reason}){hint}") from e

    def _init_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "address": self.address,
            "log_to_driver": False,
            "logging_level": logging.WARNING,
            "configure_logging": False,
        }
        if self.address is None:
            wanted = self.workers * self.cpus_per_worker
            args["num_cpus"] = max(os.cpu_count() or 1, int(wanted + 0.999))
            args["include_dashboard"] = False
        return args

    def _run(self, ray: Any, job: Job, items: Sequence[Item]) -> Iterator[Outcome]:
        context = ray.data.DataContext.get_current()
        context.max_errored_blocks = -1  # a file whose retries ran out must not stop the batch
        context.enable_progress_bars = False
        context.execution_options.preserve_order = False
        rows = [
            {"items": json.dumps([[str(i.path), i.duration, i.span] for i in group])}
            for group in groups(items, self.workers)
        ]
        seen = set()
        try:
            for row in self._dataset(ray, job, rows).iter_rows():
                outcome = Outcome.from_json(row["outcome"])
                seen.add((str(outcome.path), outcome.span))
                yield outcome
        except ray.exceptions.RayError as e:
            raise AsrPipelineError(_failure(e)) from e
        tries = self.retries + 1
        for item in items:
            if (str(item.path), item.span) not in seen:
                message = (
                    f"{item.path}: its worker process died on it {tries} time(s) "
                    "(killed or out of memory); the file is left undone"
                )
                yield Outcome(
                    item.path, item.duration, stage="worker", message=message, span=item.span
                )

    def _dataset(self, ray: Any, job: Job, rows: list[dict[str, Any]]) -> Any:
        """One group of files per block, in the given order, through ``workers`` actors."""
        with warnings.catch_warnings():
            # Ray Data's own advice for actor retries is map_batches(..., max_restarts=...),
            # though newer Ray releases flag these keyword arguments as deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            return ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
                _Worker,
                fn_constructor_kwargs={
                    "job": job,
                    "threads": max(1, round(self.cpus_per_worker)),
                    "cwd": os.getcwd(),
                },
                batch_size=1,
                compute=ray.data.ActorPoolStrategy(
                    size=self.workers, max_tasks_in_flight_per_actor=1
                ),
                num_cpus=self.cpus_per_worker,
                num_gpus=self.gpus_per_worker or None,
                max_restarts=-1,
                max_task_retries=self.retries,
            )


def groups(items: Sequence[Item], workers: int) -> list[list[Item]]:
    """``items`` (longest first) in consecutive groups of at least :data:`GROUP_S` of audio
    (less when the batch is small: a quarter of each worker's share) or
    :data:`GROUP_FILES` files, so that short files share a round trip; long files go alone."""
    least = min(GROUP_S, sum(item.duration for item in items) / (4 * workers))
    found: list[list[Item]] = []
    group: list[Item] = []
    for item in items:
        group.append(item)
        if sum(i.duration for i in group) >= least or len(group) >= GROUP_FILES:
            found.append(group)
            group = []
    return [*found, group] if group else found


class _Worker:
    """One pool actor: builds the pipeline once, then processes one group of files per call."""

    def __init__(self, job: Job, threads: int, cwd: str) -> None:
        if os.path.isdir(cwd):  # relative paths mean the same as on the driver
            os.chdir(cwd)
        self.job = job
        self.process = job.build()
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        from pathlib import Path

        outcomes = [
            process_file(self.job, self.process, Item(Path(path), duration, _span(span)))
            for group in batch["items"]
            for path, duration, span in json.loads(group)
        ]
        return {"outcome": [o.to_json() for o in outcomes]}


def _span(span: list[float | None] | None) -> tuple[float, float | None] | None:
    return None if span is None else (float(span[0] or 0.0), span[1])


def _failure(error: Exception) -> str:
    """One line for a Ray error: its last line, the original exception raised in the worker."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    last = re.sub(r"^(\w+\.)+(?=\w+: )", "", lines[-1]) if lines else type(error).__name__
    if getattr(error, "actor_init_failed", False) or "creation task" in str(error):
        return f"a Ray worker could not build the pipeline: {last}"
    return f"the Ray run failed: {last}"


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise MissingDependencyError("the Ray executor", "ray", "ray[data]") from None
    return ray
