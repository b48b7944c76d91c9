"""Progress of a batch: files and hours of audio done of the totals, inside files too, with an ETA.

:class:`BatchProgress` counts; whoever runs the files tells it what happens, from any thread::

    with BatchProgress(files=len(paths), audio_s=sum(durations.values())) as progress:
        for path in paths:
            advance = progress.start(path.name, durations[path])
            with audio_progress(advance):          # asr_pipeline.progress: stages report into it
                transcript = pipeline(path)
            progress.finish(path.name)              # or progress.finish(path.name, error=message)

A driver that runs files elsewhere (processes, a cluster) calls the same methods as results
and progress messages come back. On a terminal it draws a bar on stderr; otherwise it prints
only failures.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from ..progress import AudioProgress

__all__ = ["BatchProgress", "audio_duration", "format_duration"]


def audio_duration(path: str | Path) -> float:
    """The duration of an audio file from its header, 0.0 when it cannot be read (the file's
    own run reports why)."""
    from ..types import Audio

    try:
        return max(0.0, float(Audio.open(path).duration))
    except Exception:
        return 0.0


def format_duration(seconds: float) -> str:
    """``H:MM:SS``."""
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class BatchProgress:
    """Files and audio seconds done of a batch's totals, with an ETA; thread-safe.

    ``audio_s`` is the batch's total audio (0: unknown, then files alone measure progress).
    ``enabled`` (default: when stderr is a terminal) draws a bar; ``clock`` is for tests.
    """

    def __init__(
        self,
        files: int,
        audio_s: float = 0.0,
        *,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.files = files
        self.audio_s = max(0.0, audio_s)
        self.files_done = 0
        self.files_failed = 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._clock = clock
        self._started = clock()
        self._audio_done = 0.0
        self._running: dict[str, tuple[float, float]] = {}  # name: (duration, seconds done)
        self._lock = threading.RLock()
        self._bar: Any = None
        self._task: Any = None
        self._console: Any = None

    # ------------------------------------------------------------ events

    def start(self, name: str, duration: float = 0.0) -> AudioProgress:
        """A file begins; returns the callback that advances it by seconds of its audio."""
        with self._lock:
            self._running[name] = (max(0.0, duration), 0.0)
            self._refresh()
        return lambda seconds: self.advance(name, seconds)

    def advance(self, name: str, seconds: float) -> None:
        """``seconds`` more of file ``name``'s audio are done (never past its duration)."""
        with self._lock:
            if name not in self._running:
                return
            duration, done = self._running[name]
            step = max(0.0, min(seconds, duration - done) if duration else seconds)
            self._running[name] = (duration, done + step)
            self._audio_done += step
            self._refresh()

    def finish(self, name: str, error: str | None = None) -> None:
        """File ``name`` is done (its whole duration counts) or failed with ``error``
        (printed at once)."""
        with self._lock:
            duration, done = self._running.pop(name, (0.0, 0.0))
            self._audio_done += max(0.0, duration - done)
            if error is None:
                self.files_done += 1
            else:
                self.files_failed += 1
            self._refresh()
        if error is not None:
            self.show(f"failed: {error}")

    def show(self, line: str) -> None:
        """Print a line (above the bar when there is one)."""
        if self._console is not None:
            self._console.print(line, markup=False, soft_wrap=True)
        else:
            print(line, file=sys.stderr, flush=True)

    # ------------------------------------------------------------ figures

    @property
    def audio_done(self) -> float:
        """Seconds of audio done, finished and running files together."""
        return self._audio_done

    def fraction(self) -> float:
        """How much of the batch is done, 0..1: by audio when the total is known, else files."""
        with self._lock:
            if self.audio_s > 0:
                return min(1.0, self._audio_done / self.audio_s)
            return (self.files_done + self.files_failed) / self.files if self.files else 1.0

    def eta(self) -> float | None:
        """Seconds left at the pace so far; None before anything is done."""
        fraction = self.fraction()
        if fraction <= 0:
            return None
        elapsed = self._clock() - self._started
        return elapsed * (1 - fraction) / fraction

    def summary(self) -> str:
        """``2/5 files · 0:40:00/2:00:00 audio · ETA 0:13:20`` (failures counted apart)."""
        with self._lock:
            parts = [f"{self.files_done + self.files_failed}/{self.files} files"]
            if self.files_failed:
                parts[0] += f" ({self.files_failed} failed)"
            if self.audio_s > 0:
                done = format_duration(self._audio_done)
                parts.append(f"{done}/{format_duration(self.audio_s)} audio")
            eta = self.eta()
            parts.append(f"ETA {format_duration(eta)}" if eta is not None else "ETA -")
            return " · ".join(parts)

    # ------------------------------------------------------------ display

    def __enter__(self) -> BatchProgress:
        self._started = self._clock()
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

            self._console = Console(stderr=True, highlight=False)
            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[summary]}"),
                console=self._console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("", total=1.0, summary=self.summary())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
        self._bar = self._task = self._console = None

    def _refresh(self) -> None:
        if self._bar is None:
            return
        names = ", ".join(self._running) or "done"
        self._bar.update(
            self._task, description=names, completed=self.fraction(), summary=self.summary()
        )
