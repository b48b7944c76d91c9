"""The driver's progress bar: files and audio hours done, with an ETA; failures above it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from .base import Item, Outcome

__all__ = ["batch_progress"]


@contextmanager
def batch_progress(items: Sequence[Item], enabled: bool) -> Iterator[Callable[[Outcome], None]]:
    """A function to call with every outcome; it advances the bar and prints failures."""
    if not enabled:

        def quiet(outcome: Outcome) -> None:
            if not outcome.ok:
                print(f"failed: {outcome.message}", file=sys.stderr)

        yield quiet
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True, highlight=False)
    hours = sum(item.duration for item in items) / 3600
    columns = (
        TextColumn(f"{{task.fields[files]}}/{len(items)} files"),
        BarColumn(),
        TextColumn(f"{{task.fields[hours]:.2f}}/{hours:.2f} h of audio"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        # the bar and its ETA follow audio hours when durations are known, else files
        task = bar.add_task("", total=hours or len(items), files=0, hours=0.0)
        done, done_hours = 0, 0.0

        def advance(outcome: Outcome) -> None:
            nonlocal done, done_hours
            done += 1
            done_hours += outcome.audio_s / 3600
            completed = done_hours if hours else done
            bar.update(task, completed=completed, files=done, hours=done_hours)
            if not outcome.ok:
                console.print(f"failed: {outcome.message}", markup=False, soft_wrap=True)

        yield advance
