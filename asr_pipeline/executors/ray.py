"""The Ray executor: Ray Data batch inference over an actor pool, on one machine or a cluster.

Each pool actor builds the pipeline once and processes one file per call, writing its outputs
into the output folder itself (a shared filesystem on a cluster). Files go out one per block,
longest first, so memory stays bounded and no long file starts last. An actor whose process dies
is restarted and its file retried, up to ``retries`` times; then the file is recorded as failed.
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
from .base import Item, Job, Outcome, process_file

if TYPE_CHECKING:
    from ..cli.progress import BatchProgress

__all__ = ["RayExecutor"]

DEFAULT_RETRIES = 2
"""Times a file is retried after its worker process died on it."""


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
            {"path": str(item.path), "duration": item.duration, "span": json.dumps(item.span)}
            for item in items
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
        """One file per block, in the given order, through a pool of ``workers`` actors."""
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


class _Worker:
    """One pool actor: builds the pipeline once, then processes one file per call."""

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
            process_file(self.job, self.process, Item(Path(str(path)), float(duration), _span(s)))
            for path, duration, s in zip(
                batch["path"], batch["duration"], batch["span"], strict=True
            )
        ]
        return {"outcome": [o.to_json() for o in outcomes]}


def _span(text: str) -> tuple[float, float | None] | None:
    span = json.loads(text)
    return None if span is None else (span[0], span[1])


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
