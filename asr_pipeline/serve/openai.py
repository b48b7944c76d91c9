"""OpenAI's audio transcription API: ``POST /v1/audio/transcriptions`` and ``GET /v1/models``.

The multipart form carries ``file``, ``model`` (any id: the configured pipeline serves it),
``language`` (``ru`` or absent), ``prompt``, ``response_format``
(``json|text|srt|vtt|verbose_json``), ``timestamp_granularities[]`` (``word|segment``) and
``temperature`` (accepted, ignored). The upload is read into memory, bounded while it is read,
and decoded from there: nothing is written to disk.
"""

from __future__ import annotations

import io
import math
import re
import zlib
from typing import TYPE_CHECKING, Any

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ..audio import decode_bytes
from ..errors import AudioError
from ..types import Transcript
from ..writers import get_writer
from .settings import request_terms

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .app import Service

__all__ = ["error", "models", "transcriptions"]

FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
GRANULARITIES = ("word", "segment")
LANGUAGES = {"ru": "russian"}
FIELD_BYTES = 64 * 1024
"""The most a form field other than the file may hold."""


class RequestError(Exception):
    """A request that cannot be served, with its HTTP status and OpenAI error fields."""

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.param, self.code = status, param, code


def error(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    """A response in OpenAI's error shape."""
    kind = "server_error" if status >= 500 else "invalid_request_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


async def models(request: Request) -> Response:
    service: Service = request.app.state.service
    if not service.authorized(request.headers.get("authorization")):
        return service.unauthorized()
    model = {"id": service.model_id, "object": "model", "created": 0, "owned_by": "asr-pipeline"}
    return JSONResponse({"object": "list", "data": [model]})


async def transcriptions(request: Request) -> Response:
    service: Service = request.app.state.service
    if not service.authorized(request.headers.get("authorization")):
        return service.unauthorized()
    if not service.ready:
        return error(503, "the server is starting; try again shortly", code="not_ready")
    try:
        form = await _read_form(request, service.max_upload_bytes)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise RequestError(400, "the form has no 'file' field with the audio", "file")
        response_format = _choice(form, "response_format", FORMATS, "json")
        language = _choice(form, "language", tuple(LANGUAGES), "ru")
        granularities = [str(g) for g in form.getlist("timestamp_granularities[]")]
        for value in granularities:
            if value not in GRANULARITIES:
                raise RequestError(
                    400,
                    f"timestamp_granularities[]: expected word or segment, got {value!r}",
                    "timestamp_granularities[]",
                )
        terms = _prompt_terms(form.get("prompt"))
        data = await upload.read()
        name = upload.filename or "file"
        try:
            longest = service.engine.options.max_upload_audio_s
            audio = await service.run(decode_bytes, data, name, longest)
        except AudioError as e:
            raise RequestError(400, str(e), "file", "invalid_file") from None
        transcript = await service.run(service.pipeline, audio, terms=terms)
    except RequestError as e:
        return error(e.status, str(e), e.param, e.code)
    except ClientDisconnect:
        return Response(status_code=499)
    return _respond(transcript, response_format, LANGUAGES[language], granularities, service)


def _prompt_terms(prompt: Any) -> tuple[str, ...]:
    """Names and terms from ``prompt``: separated by commas, semicolons or new lines, or word
    by word when it has none of these; they become hotwords and casing vocabulary."""
    if prompt is None:
        return ()
    if not isinstance(prompt, str):
        raise RequestError(400, "prompt: expected text", "prompt")
    parts = re.split(r"[,;\n]", prompt) if re.search(r"[,;\n]", prompt) else prompt.split()
    try:
        return request_terms(parts, "prompt")
    except ValueError as e:
        raise RequestError(400, str(e), "prompt") from None


async def _read_form(request: Request, limit: int) -> Any:
    """The multipart form, read into memory; over ``limit`` bytes is a 413 as soon as it shows."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise RequestError(400, "expected a multipart/form-data body with a 'file' field", "file")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, _too_large(limit), "file", "file_too_large")

    async def bounded() -> AsyncIterator[bytes]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestError(413, _too_large(limit), "file", "file_too_large")
            yield chunk

    parser = MultiPartParser(
        request.headers, bounded(), max_files=1, max_fields=32, max_part_size=FIELD_BYTES
    )
    parser.spool_max_size = limit + 1  # the upload stays in memory, never spooled to disk
    try:
        return await parser.parse()
    except MultiPartException as e:
        raise RequestError(400, f"cannot read the form: {e.message}") from None


def _too_large(limit: int) -> str:
    return f"the upload is over the server's limit of {limit / 1e6:g} MB (--max-upload-mb)"


def _choice(form: Any, name: str, choices: tuple[str, ...], default: str) -> str:
    value = form.get(name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise RequestError(
            400, f"{name}: expected one of {', '.join(choices)}, got {str(value)!r}", name
        )
    return str(value)


def _respond(
    transcript: Transcript,
    response_format: str,
    language: str,
    granularities: list[str],
    service: Service,
) -> Response:
    if response_format == "json":
        return JSONResponse({"text": transcript.text})
    if response_format == "text":
        return PlainTextResponse(transcript.text + "\n")
    if response_format in ("srt", "vtt"):
        writer = get_writer(response_format, service.pipeline.writers.get(response_format))
        body = io.StringIO()
        writer.write(transcript, body)
        media = "text/vtt" if response_format == "vtt" else "text/plain"
        return Response(body.getvalue(), media_type=f"{media}; charset=utf-8")
    return JSONResponse(verbose_json(transcript, language, granularities))


def verbose_json(
    transcript: Transcript, language: str, granularities: list[str] | None = None
) -> dict[str, Any]:
    """OpenAI's ``verbose_json``: segments and words unless ``granularities`` names only one."""
    wanted = set(granularities or GRANULARITIES)
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": language,
        "duration": transcript.duration or 0.0,
        "text": transcript.text,
    }
    if "segment" in wanted:
        body["segments"] = [
            _segment(i, segment)
            for i, segment in enumerate(s for s in transcript.segments if s.words)
        ]
    if "word" in wanted:
        body["words"] = [{"word": w.text, "start": w.start, "end": w.end} for w in transcript.words]
    return body


def _segment(index: int, segment: Any) -> dict[str, Any]:
    text = segment.text
    scores = [w.score for w in segment.words if w.score]
    encoded = text.encode()
    return {
        "id": index,
        "seek": 0,
        "start": segment.start,
        "end": segment.end,
        "text": text,
        "tokens": [],
        "temperature": 0.0,
        "avg_logprob": round(sum(math.log(s) for s in scores) / len(scores), 4) if scores else 0.0,
        "compression_ratio": round(len(encoded) / len(zlib.compress(encoded)), 4) if text else 0.0,
        "no_speech_prob": 0.0,
    }
