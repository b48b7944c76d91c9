"""The local executor: every file in this process, one after another (today's behaviour)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ..progress import audio_progress
from .base import Item, Job, Outcome, process_file

if TYPE_CHECKING:
    from .progress import BatchProgress

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """Builds the pipeline once in this process and runs the items in order."""

    name = "local"
    workers = 1

    def map(self, job: Job, items: Sequence[Item], progress: BatchProgress) -> Iterator[Outcome]:
        if not items:
            return
        process = job.build()
        for item in items:
            advance = progress.start(item.path.name, item.duration)
            with audio_progress(advance):  # stages report the audio they cover as they go
                outcome = process_file(job, process, item)
            progress.finish(item.path.name, outcome.message)
            yield outcome
