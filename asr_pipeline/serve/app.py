"""The ASGI app: one loaded pipeline behind the OpenAI HTTP API and the Vosk WebSocket protocol.

Models are loaded before the app is made (:func:`create_app` takes a built
:class:`~asr_pipeline.Pipeline`). Recognition runs in worker threads, at most one per core at a
time, so the event loop never waits on a model and many clients are served at once.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from ..pipeline import Pipeline
from ..terms import call_terms
from . import openai, vosk
from .settings import ServeOptions
from .stream import StreamEngine

__all__ = ["Service", "create_app"]

log = logging.getLogger("asr_pipeline.serve")
T = TypeVar("T")


class Service:
    """What the routes share: the pipeline, the streaming engine, the key and the limits."""

    def __init__(
        self,
        pipeline: Pipeline,
        options: ServeOptions | None = None,
        *,
        api_key: str | None = None,
        max_upload_mb: float = 500,
        max_streams: int = 16,
        workers: int | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.engine = StreamEngine(pipeline, options)
        self.model_id = str(self.engine.model)
        self.api_key = api_key or None
        self.max_upload_bytes = int(max_upload_mb * 1_000_000)
        self.max_streams = max_streams
        self.streams = 0
        self.workers = workers or _cores()
        self.limiter: anyio.CapacityLimiter | None = None
        self.ready = False

    async def run(self, fn: Callable[..., T], *args: Any, terms: Sequence[str] = ()) -> T:
        """``fn(*args)`` in a worker thread, at most ``workers`` at a time; ``terms`` (a
        request's names and words) are favoured by the stages for this call only."""
        return await anyio.to_thread.run_sync(
            partial(_with_terms, tuple(terms), fn, *args), limiter=self.limiter
        )

    def authorized(self, header: str | None, query_key: str | None = None) -> bool:
        """Whether a request carries the key (``Bearer KEY``, or ``?api_key=`` on streams)."""
        if self.api_key is None:
            return True
        given = query_key
        if header is not None:
            scheme, _, value = header.partition(" ")
            given = value.strip() if scheme.lower() == "bearer" else None
        return given is not None and hmac.compare_digest(given.encode(), self.api_key.encode())

    def unauthorized(self) -> Response:
        return openai.error(
            401,
            "missing or wrong API key: send 'Authorization: Bearer KEY'",
            code="invalid_api_key",
        )

    async def deny(self, websocket: WebSocket) -> None:
        """Refuse a WebSocket handshake with 401."""
        await websocket.send_denial_response(self.unauthorized())

    def take_stream(self) -> bool:
        if self.streams >= self.max_streams:
            return False
        self.streams += 1
        return True

    def release_stream(self) -> None:
        self.streams -= 1


async def health(request: Request) -> Response:
    service: Service = request.app.state.service
    if not service.ready:
        return JSONResponse({"status": "starting"}, status_code=503)
    return JSONResponse({"status": "ok", "model": service.model_id})


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("request failed", exc_info=exc)
    return openai.error(500, "internal error while serving the request")


def create_app(service: Service) -> Starlette:
    """The ASGI app serving ``service``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.limiter = anyio.CapacityLimiter(service.workers)
        service.ready = True
        yield
        service.ready = False

    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/v1/models", openai.models),
            Route("/v1/audio/transcriptions", openai.transcriptions, methods=["POST"]),
            WebSocketRoute("/v1/stream", vosk.stream_endpoint),
            WebSocketRoute("/", vosk.stream_endpoint),
        ],
        exception_handlers={Exception: _internal_error},
        lifespan=lifespan,
    )
    app.state.service = service
    return app


def _with_terms(terms: tuple[str, ...], fn: Callable[..., T], *args: Any) -> T:
    with call_terms(terms):
        return fn(*args)


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
