"""Terms for one call: names and words a request asks the stages to favour.

A service hands a request's terms (OpenAI's ``prompt``, Vosk's ``phrase_list``) to the
pipeline by running it inside :func:`call_terms`: beam search adds them to its hotwords and
``casing`` to its vocabulary, for that call only. The terms live in a
:class:`~contextvars.ContextVar`, so they belong to the calling thread's run: a pipeline shared
by threads keeps no per-call state, and each request sees only its own terms.

>>> with call_terms(["Газпром", "Сбербанк"]):
...     current_terms()
('Газпром', 'Сбербанк')
>>> current_terms()
()
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["call_terms", "current_terms"]

_terms: ContextVar[tuple[str, ...]] = ContextVar("call_terms", default=())


@contextmanager
def call_terms(terms: Iterable[str]) -> Iterator[None]:
    """Add ``terms`` (blank ones dropped, spaces normalised) to the stages' own in this block."""
    cleaned = tuple(dict.fromkeys(" ".join(t.split()) for t in terms if t and t.strip()))
    token = _terms.set(cleaned)
    try:
        yield
    finally:
        _terms.reset(token)


def current_terms() -> tuple[str, ...]:
    """The terms of the call running in this context (empty outside :func:`call_terms`)."""
    return _terms.get()
