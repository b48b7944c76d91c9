"""The local executor: every file in this process, one after another (today's behaviour)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .base import Item, Job, Outcome, process_file

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """Builds the pipeline once in this process and runs the items in order."""

    name = "local"
    workers = 1

    def map(self, job: Job, items: Sequence[Item]) -> Iterator[Outcome]:
        if not items:
            return
        process = job.build()
        for item in items:
            yield process_file(job, process, item)
