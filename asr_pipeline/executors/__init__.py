"""Executors: where a batch's files are processed (this process, or a Ray cluster).

>>> make_executor("local").name
'local'
"""

from __future__ import annotations

from .base import (
    FAILURES_FILE,
    RUNS_FILE,
    BatchResult,
    Executor,
    Item,
    Job,
    Outcome,
    PlanError,
    Span,
    by_duration,
    output_paths,
    plan,
    run_job,
)
from .local import LocalExecutor

__all__ = [
    "EXECUTORS",
    "FAILURES_FILE",
    "RUNS_FILE",
    "BatchResult",
    "Executor",
    "Item",
    "Job",
    "LocalExecutor",
    "Outcome",
    "PlanError",
    "Span",
    "by_duration",
    "make_executor",
    "output_paths",
    "plan",
    "run_job",
]

EXECUTORS = ("local", "ray")


def make_executor(
    name: str,
    *,
    address: str | None = None,
    workers: int = 1,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``); the other options are Ray's."""
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        from .ray import RayExecutor

        return RayExecutor(
            address,
            workers=workers,
            cpus_per_worker=cpus_per_worker,
            gpus_per_worker=gpus_per_worker,
        )
    raise ValueError(f"unknown executor '{name}'; known: {', '.join(EXECUTORS)}")
