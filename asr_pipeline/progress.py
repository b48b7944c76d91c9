"""Progress inside a file: stages report how much of the source's audio they have covered.

A caller that wants to know (a progress bar, a batch driver) runs the pipeline inside
:func:`audio_progress`; a stage that works through audio calls :func:`report_audio` as it goes.
The callback lives in a :class:`~contextvars.ContextVar`, so it belongs to the calling thread's
run: a pipeline shared by threads keeps no per-call state, and each thread hears only its own.

>>> seen = []
>>> with audio_progress(seen.append):
...     report_audio(12.5)
>>> report_audio(1.0)  # nobody listening: nothing happens
>>> seen
[12.5]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["AudioProgress", "audio_progress", "report_audio"]

AudioProgress = Callable[[float], None]
"""Called with the seconds of source audio covered since the last call."""

_listener: ContextVar[AudioProgress | None] = ContextVar("audio_progress", default=None)


@contextmanager
def audio_progress(callback: AudioProgress | None) -> Iterator[None]:
    """Send the audio progress reported in this block (this thread, this context) to
    ``callback``; ``None`` listens to nothing."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)


def report_audio(seconds: float) -> None:
    """Tell the listener, if any, that ``seconds`` more of the source's audio are done."""
    listener = _listener.get()
    if listener is not None and seconds > 0:
        listener(seconds)
