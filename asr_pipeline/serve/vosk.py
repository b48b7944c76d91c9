"""Vosk's WebSocket protocol on ``/v1/stream`` and ``/``.

A client may first send ``{"config": {"sample_rate": 16000, "words": true, "phrase_list":
[...]}}``, then binary frames of 16-bit little-endian mono PCM, then ``{"eof" : 1}``. Each
audio frame is answered with ``{"partial": "..."}``, or at the end of an utterance with
``{"result": [{"word", "start", "end", "conf"}...], "text": "..."}``; after eof come the
last final and the close.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..audio import resample
from ..types import SAMPLE_RATE
from .settings import request_terms
from .stream import Final

if TYPE_CHECKING:
    from .app import Service

__all__ = ["stream_endpoint"]

log = logging.getLogger("asr_pipeline.serve")

MIN_RATE, MAX_RATE = 8_000, 48_000
TRY_AGAIN_LATER = 1013
UNSUPPORTED_DATA = 1003
INVALID_DATA = 1007
GOING_AWAY = 1001
INBOX = 64
"""Messages a stream may have waiting; beyond that the server stops reading from the client."""


class ProtocolError(Exception):
    """A client broke the protocol; the message is sent to it before the close."""

    def __init__(self, message: str, code: int = UNSUPPORTED_DATA) -> None:
        super().__init__(message)
        self.code = code


async def stream_endpoint(websocket: WebSocket) -> None:
    """One client's stream, from handshake to close."""
    service: Service = websocket.app.state.service
    if not service.authorized(
        websocket.headers.get("authorization"), websocket.query_params.get("api_key")
    ):
        await service.deny(websocket)
        return
    if not service.ready:
        await websocket.close(code=TRY_AGAIN_LATER, reason="the server is starting")
        return
    if not service.take_stream():
        await websocket.accept()
        await websocket.close(code=TRY_AGAIN_LATER, reason="too many streams; try again later")
        return
    try:
        await websocket.accept()
        await _serve(websocket, service)
    except WebSocketDisconnect:
        pass  # the client left: its state goes with this frame
    except ProtocolError as e:
        await _close_with_error(websocket, str(e), e.code)
    except Exception:
        log.exception("stream failed")
        await _close_with_error(websocket, "internal error while recognising the stream", 1011)
    finally:
        service.release_stream()


async def _serve(websocket: WebSocket, service: Service) -> None:
    recognizer = service.engine.open()
    words = True
    terms: tuple[str, ...] = ()
    pcm = _Pcm()
    started = False
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=INBOX)
    idle = service.engine.options.idle_timeout_s
    reader = asyncio.create_task(_read(websocket, inbox))
    held: dict[str, Any] | None = None  # a message taken out of turn, handled next
    try:
        while True:
            message, held = held or await _next(inbox, idle), None
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            text, data = message.get("text"), message.get("bytes")
            if text is not None:
                request = _parse(text)
                if "eof" in request:
                    finals = await service.run(recognizer.finish, terms=terms)
                    for final in finals or [Final((), "")]:
                        await websocket.send_text(_final(final, words))
                    await websocket.close(code=1000)
                    return
                if "config" in request and not started:
                    rate, words, terms = _config(request["config"], words)
                    pcm = _Pcm(rate)
                    continue
                raise ProtocolError('expected binary audio frames or {"eof" : 1}')
            if data is None:
                continue
            started = True
            chunks = [data]
            while not inbox.empty():  # a stream that fell behind catches up in one step
                queued = inbox.get_nowait()
                if queued.get("bytes") is None:
                    held = queued
                    break
                chunks.append(queued["bytes"])
            samples = pcm.decode(b"".join(chunks))
            finals = await service.run(recognizer.feed, samples, terms=terms)
            for final in finals:
                await websocket.send_text(_final(final, words))
            if not finals:
                partial = json.dumps({"partial": recognizer.partial}, ensure_ascii=False)
                await websocket.send_text(partial)
    finally:
        reader.cancel()


async def _next(inbox: asyncio.Queue[dict[str, Any]], idle_s: float) -> dict[str, Any]:
    """The client's next message; a client silent for ``idle_s`` is closed."""
    try:
        return await asyncio.wait_for(inbox.get(), idle_s)
    except asyncio.TimeoutError:
        raise ProtocolError(f"nothing received for {idle_s:g} s; closing", GOING_AWAY) from None


async def _read(websocket: WebSocket, inbox: asyncio.Queue[dict[str, Any]]) -> None:
    """Move the client's messages into ``inbox`` (bounded: a full inbox stops reading)."""
    try:
        while True:
            message = await websocket.receive()
            await inbox.put(message)
            if message["type"] == "websocket.disconnect":
                return
    except (RuntimeError, OSError):  # the connection broke under the reader
        await inbox.put({"type": "websocket.disconnect", "code": 1006})


def _parse(text: str) -> dict[str, Any]:
    try:
        request = json.loads(text)
    except ValueError:
        raise ProtocolError("malformed JSON in a text message", INVALID_DATA) from None
    if not isinstance(request, dict):
        raise ProtocolError('expected a JSON object such as {"eof" : 1}', INVALID_DATA)
    return request


def _config(config: Any, words: bool) -> tuple[int, bool, tuple[str, ...]]:
    """The sample rate, whether finals list their words, and the ``phrase_list`` (favoured as
    hotwords and casing vocabulary, beside the pipeline's own), from a ``config`` message.

    ``max_alternatives`` is accepted and ignored.
    """
    if not isinstance(config, dict):
        raise ProtocolError("config: expected an object", INVALID_DATA)
    value = config.get("sample_rate", SAMPLE_RATE)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError("config.sample_rate: expected a number", INVALID_DATA)
    if not MIN_RATE <= value <= MAX_RATE:
        raise ProtocolError(
            f"config.sample_rate: expected {MIN_RATE} to {MAX_RATE} Hz, got {value}", INVALID_DATA
        )
    phrases = config.get("phrase_list", [])
    if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
        raise ProtocolError("config.phrase_list: expected a list of strings", INVALID_DATA)
    try:
        terms = request_terms(phrases, "config.phrase_list")
    except ValueError as e:
        raise ProtocolError(str(e), INVALID_DATA) from None
    return int(value), bool(config.get("words", words)), terms


def _final(final: Final, words: bool) -> str:
    message: dict[str, Any] = {}
    if words:
        message["result"] = [
            {
                "word": w.text,
                "start": w.start,
                "end": w.end,
                "conf": 1.0 if w.score is None else w.score,
            }
            for w in final.words
        ]
    message["text"] = final.text
    return json.dumps(message, ensure_ascii=False)


async def _close_with_error(websocket: WebSocket, message: str, code: int) -> None:
    try:
        await websocket.send_text(json.dumps({"error": message}, ensure_ascii=False))
        await websocket.close(code=code)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client is gone already


class _Pcm:
    """16-bit little-endian PCM bytes to 16 kHz float32, carrying an odd byte over."""

    def __init__(self, rate: int = SAMPLE_RATE) -> None:
        self.rate = rate
        self._rest = b""

    def decode(self, data: bytes) -> np.ndarray:
        data = self._rest + data
        whole = len(data) // 2 * 2
        self._rest = data[whole:]
        samples = np.frombuffer(data[:whole], dtype="<i2").astype(np.float32) / 32768.0
        return samples if self.rate == SAMPLE_RATE else resample(samples, self.rate)
