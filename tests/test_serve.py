"""``asr-pipeline serve`` end to end: a real server on a loopback port, real clients.

The server runs the demonstration model (``tests/fixtures/espeak-ru-tiny``) with the numbers and
casing stages; the official ``openai`` package talks to the HTTP API, ``websockets`` streams
espeak-ng speech through the Vosk protocol.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import io
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
openai = pytest.importorskip("openai")
sync_client = pytest.importorskip("websockets.sync.client")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is not installed (apt install espeak-ng)", allow_module_level=True)

from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402

from asr_pipeline import Audio, Pipeline  # noqa: E402
from asr_pipeline.audio import resample  # noqa: E402
from asr_pipeline.serve.app import Service, create_app  # noqa: E402
from asr_pipeline.serve.settings import ServeOptions  # noqa: E402
from asr_pipeline.serve.stream import StreamEngine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "tests" / "fixtures" / "espeak-ru-tiny"
SAMPLE = REPO / "examples" / "espeak_ru_sample.flac"
KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MAX_UPLOAD_MB = 0.5
MAX_STREAMS = 3
SR = 16_000
SENTENCES = ("встреча назначена на двадцать пятое мая в девять тридцать", "пожалуйста приходите")


@pytest.fixture(scope="module")
def service() -> Service:
    pipeline = Pipeline.from_config(
        {
            "pipeline": ["vad", "ctc", "numbers", "casing"],
            "device": "cpu",
            "stages": {"ctc": {"model": str(MODEL)}},
        }
    )
    return Service(pipeline, api_key=KEY, max_upload_mb=MAX_UPLOAD_MB, max_streams=MAX_STREAMS)


@pytest.fixture(scope="module")
def base_url(service: Service) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=KEY, max_retries=0)


def espeak(text: str) -> np.ndarray:
    wav = subprocess.run(
        ["espeak-ng", "-v", "ru", "--stdout", text], check=True, capture_output=True
    ).stdout
    data, rate = sf.read(io.BytesIO(wav), dtype="float32")
    data = resample(data, rate)
    loud = np.flatnonzero(np.abs(data) > 0.02)
    return data[loud[0] : loud[-1] + 1]


def silence(seconds: float) -> np.ndarray:
    return np.random.default_rng(0).normal(0, 1e-4, round(seconds * SR)).astype(np.float32)


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Two sentences with pauses, and the spoken span of each."""
    parts, spans, at = [silence(0.4)], [], 0.4
    for sentence in SENTENCES:
        spoken = espeak(sentence)
        spans.append((at, at + len(spoken) / SR))
        parts += [spoken, silence(0.9)]
        at = spans[-1][1] + 0.9
    return np.concatenate(parts), spans


def pcm16(samples: np.ndarray, rate: int = SR) -> bytes:
    """16-bit PCM of 16 kHz samples at ``rate`` (16000, or 8000 by averaging pairs)."""
    if rate == SR // 2:
        samples = samples[: len(samples) // 2 * 2].reshape(-1, 2).mean(axis=1)
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def stream(
    url: str, audio: bytes, chunk: int, pace_s: float, config: dict | None = None
) -> tuple[list[dict], float | None]:
    """Send ``audio`` in ``chunk``-byte frames every ``pace_s``, then eof; every reply received,
    and the close code."""
    replies: list[dict] = []
    with sync_client.connect(url, additional_headers=AUTH) as ws:

        def send() -> None:
            if config is not None:
                ws.send(json.dumps({"config": config}))
            for offset in range(0, len(audio), chunk):
                ws.send(audio[offset : offset + chunk])
                time.sleep(pace_s)
            ws.send('{"eof" : 1}')

        sender = threading.Thread(target=send)
        sender.start()
        try:
            for message in ws:
                replies.append(json.loads(message))
        finally:
            sender.join()
        return replies, ws.close_code


def ws_url(base_url: str, path: str = "/v1/stream") -> str:
    return base_url.replace("http://", "ws://") + path


# ---------------------------------------------------------------- HTTP


def test_health_answers_without_a_key(base_url: str) -> None:
    response = httpx.get(f"{base_url}/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_models_lists_the_pipelines_model(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids == [str(MODEL)]


def test_openai_client_gets_digits_in_text(client: openai.OpenAI) -> None:
    with SAMPLE.open("rb") as fh:
        result = client.audio.transcriptions.create(model="whisper-1", file=fh, language="ru")
    assert "25 мая" in result.text and "9:30" in result.text
    assert result.text.startswith("Встреча")


def test_the_prompts_terms_case_this_request_only(client: openai.OpenAI, base_url: str) -> None:
    def text(**options: str) -> str:
        with SAMPLE.open("rb") as fh:
            return client.audio.transcriptions.create(model="whisper-1", file=fh, **options).text

    assert "Встреча назначена" in text()
    assert "Встреча Назначена" in text(prompt="Назначена, Газпром")  # the casing vocabulary
    assert "Встреча назначена" in text()  # the next request is back to the server's terms
    response = _post(base_url, SAMPLE.read_bytes(), prompt=",".join(["Term"] * 101))
    assert response.status_code == 400 and response.json()["error"]["param"] == "prompt"


def test_openai_client_gets_word_times_in_verbose_json(client: openai.OpenAI) -> None:
    with SAMPLE.open("rb") as fh:
        result = client.audio.transcriptions.create(
            model="whisper-1",
            file=fh,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
        )
    duration = sf.info(SAMPLE).duration
    assert result.language == "russian" and abs(result.duration - duration) < 0.05
    words = result.words
    assert [w.word for w in words][:2] == ["Встреча", "назначена"]
    assert any(w.word == "9:30" for w in words)
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    assert all(0 <= w.start < w.end <= duration for w in words)
    assert result.segments and result.segments[0].start <= words[0].start
    assert " ".join(s.text for s in result.segments) == result.text


def test_verbose_json_keeps_only_the_granularity_asked_for(base_url: str) -> None:
    response = httpx.post(
        f"{base_url}/v1/audio/transcriptions",
        headers=AUTH,
        files={"file": ("a.flac", SAMPLE.read_bytes())},
        data={"response_format": "verbose_json", "timestamp_granularities[]": "word"},
        timeout=60,
    )
    body = response.json()
    assert "words" in body and "segments" not in body


@pytest.mark.parametrize("fmt", ["srt", "vtt", "text"])
def test_openai_client_gets_subtitle_and_text_bodies(client: openai.OpenAI, fmt: str) -> None:
    with SAMPLE.open("rb") as fh:
        body = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format=fmt)
    assert isinstance(body, str) and "9:30" in body
    if fmt == "srt":
        assert body.startswith("1\n00:00:0") and " --> " in body
    elif fmt == "vtt":
        assert body.startswith("WEBVTT") and " --> " in body
    else:
        assert "-->" not in body


def test_missing_or_wrong_key_is_401_in_openais_shape(base_url: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = httpx.post(
            f"{base_url}/v1/audio/transcriptions",
            headers=headers,
            files={"file": ("a.flac", SAMPLE.read_bytes())},
        )
        assert response.status_code == 401
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert httpx.get(f"{base_url}/v1/models").status_code == 401


def test_openai_client_with_a_wrong_key_gets_an_authentication_error(base_url: str) -> None:
    wrong = openai.OpenAI(base_url=f"{base_url}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError), SAMPLE.open("rb") as fh:
        wrong.audio.transcriptions.create(model="whisper-1", file=fh)


def _post(base_url: str, content: bytes, name: str = "x.flac", **data: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/audio/transcriptions",
        headers=AUTH,
        files={"file": (name, content)},
        data=data,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"these are not the sounds you are looking for " * 50, "not audio"),
        (SAMPLE.read_bytes()[:4000], "corrupt"),
    ],
    ids=["empty", "not-audio", "corrupt"],
)
def test_bad_uploads_are_400_naming_the_problem(base_url: str, content: bytes, words: str) -> None:
    response = _post(base_url, content, name="upload.flac")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "file" and error["type"] == "invalid_request_error"
    assert "upload.flac" in error["message"] and words in error["message"]
    assert "Traceback" not in response.text


def test_bad_options_are_400(base_url: str) -> None:
    response = _post(base_url, SAMPLE.read_bytes(), response_format="docx")
    assert response.status_code == 400 and response.json()["error"]["param"] == "response_format"
    response = _post(base_url, SAMPLE.read_bytes(), language="en")
    assert response.status_code == 400 and response.json()["error"]["param"] == "language"
    response = httpx.post(
        f"{base_url}/v1/audio/transcriptions", headers=AUTH, data={"model": "x"}, timeout=10
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "file"


def test_upload_over_the_limit_is_413_while_reading(base_url: str) -> None:
    big = b"\0" * int(MAX_UPLOAD_MB * 1_000_000 * 1.5)
    response = _post(base_url, big)
    assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while reading
        boundary = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
        yield boundary
        for _ in range(200):
            yield b"\0" * 10_000

    response = httpx.post(
        f"{base_url}/v1/audio/transcriptions",
        headers={**AUTH, "Content-Type": "multipart/form-data; boundary=b"},
        content=chunks(),
        timeout=30,
    )
    assert response.status_code == 413


def test_an_upload_decoding_to_too_much_audio_is_refused(
    base_url: str, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = dataclasses.replace(service.engine.options, max_upload_audio_s=2.0)
    monkeypatch.setattr(service.engine, "options", options)
    response = _post(base_url, SAMPLE.read_bytes())  # about 7 s of speech
    assert response.status_code == 400
    assert "more than 2 s of audio" in response.json()["error"]["message"]


def test_a_failing_pipeline_sends_no_traceback(
    base_url: str, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(audio: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "pipeline", broken)
    response = _post(base_url, SAMPLE.read_bytes())
    assert response.status_code == 500
    assert "secret" not in response.text and "Traceback" not in response.text
    assert response.json()["error"]["type"] == "server_error"


# ---------------------------------------------------------------- WebSocket


def _check_stream(replies: list[dict], spans: list[tuple[float, float]], duration: float) -> None:
    finals = [r for r in replies if "text" in r and r.get("text")]
    assert len(finals) == len(spans), replies
    first_final = replies.index(finals[0])
    assert any(r.get("partial") for r in replies[:first_final]), "no partial before the final"
    assert "25 мая" in finals[0]["text"] and "9:30" in finals[0]["text"]
    words = [w for f in finals for w in f["result"]]
    assert [w["word"] for w in finals[0]["result"]][-1] == "9:30"
    times = [t for w in words for t in (w["start"], w["end"])]
    assert times == sorted(times), "word times must not go back"
    assert 0 <= times[0] and times[-1] <= duration
    for final, (start, end) in zip(finals, spans, strict=True):
        assert (
            start - 0.3 <= final["result"][0]["start"] and final["result"][-1]["end"] <= end + 0.3
        )
        assert all(0 <= w["conf"] <= 1 for w in final["result"])


def test_stream_in_real_time_gets_partials_then_finals_with_digits(base_url: str, speech) -> None:
    samples, spans = speech
    chunk_s = 0.2
    replies, code = stream(ws_url(base_url), pcm16(samples), int(chunk_s * SR) * 2, chunk_s)
    assert code == 1000
    _check_stream(replies, spans, len(samples) / SR)


def test_stream_faster_than_real_time_on_the_vosk_path(base_url: str, speech) -> None:
    samples, spans = speech
    replies, code = stream(ws_url(base_url, "/"), pcm16(samples), 3201, 0.0, {"words": True})
    assert code == 1000  # odd-sized frames split samples between messages
    _check_stream(replies, spans, len(samples) / SR)


def test_stream_at_8_khz_keeps_times_in_seconds(base_url: str, speech) -> None:
    samples, spans = speech
    replies, code = stream(ws_url(base_url), pcm16(samples, 8000), 1600, 0.0, {"sample_rate": 8000})
    finals = [r for r in replies if r.get("text")]
    assert code == 1000 and len(finals) == len(spans)
    # Telephone bandwidth is beyond the demonstration model's training: times, not words.
    for final, (start, end) in zip(finals, spans, strict=True):
        assert (
            start - 0.3 <= final["result"][0]["start"] and final["result"][-1]["end"] <= end + 0.3
        )
    assert "мая" in finals[0]["text"]


def test_a_streams_phrase_list_cases_its_own_finals(base_url: str, speech) -> None:
    samples, _ = speech
    config = {"phrase_list": ["Назначена"]}
    replies, code = stream(ws_url(base_url), pcm16(samples), 16000, 0.0, config)
    finals = [r["text"] for r in replies if r.get("text")]
    assert code == 1000 and "Встреча Назначена" in finals[0]
    with sync_client.connect(ws_url(base_url), additional_headers=AUTH) as ws:
        ws.send(json.dumps({"config": {"phrase_list": "oops"}}))
        assert "phrase_list" in json.loads(ws.recv())["error"]
        with pytest.raises(ConnectionClosed):
            ws.recv()
        assert ws.close_code == 1007


def test_a_silent_client_is_closed_after_the_idle_timeout(
    base_url: str, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = dataclasses.replace(service.engine.options, idle_timeout_s=0.5)
    monkeypatch.setattr(service.engine, "options", options)
    with sync_client.connect(ws_url(base_url), additional_headers=AUTH) as ws:
        ws.send(pcm16(silence(0.1)))
        assert "partial" in json.loads(ws.recv())
        assert "nothing received" in json.loads(ws.recv(timeout=10))["error"]
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 1001


def test_stream_without_words_sends_text_only(base_url: str, speech) -> None:
    samples, _ = speech
    replies, _ = stream(ws_url(base_url), pcm16(samples), 16000, 0.0, {"words": False})
    finals = [r for r in replies if "text" in r]
    assert finals and all("result" not in r for r in finals)


def test_stream_needs_the_key_in_a_header_or_the_query(base_url: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        sync_client.connect(ws_url(base_url)).close()
    assert refused.value.response.status_code == 401
    with sync_client.connect(ws_url(base_url) + f"?api_key={KEY}") as ws:
        ws.send('{"eof" : 1}')
        assert json.loads(ws.recv()) == {"result": [], "text": ""}


def test_streams_over_the_limit_are_refused_with_1013(base_url: str) -> None:
    with contextlib.ExitStack() as held:
        for _ in range(MAX_STREAMS):
            ws = held.enter_context(sync_client.connect(ws_url(base_url), additional_headers=AUTH))
            ws.send(pcm16(silence(0.1)))
            assert "partial" in json.loads(ws.recv())
        with sync_client.connect(ws_url(base_url), additional_headers=AUTH) as extra:
            with pytest.raises(ConnectionClosed):
                extra.recv()
            assert extra.close_code == 1013


@pytest.mark.parametrize(
    ("message", "code"), [("{not json", 1007), ('{"config": {"sample_rate": 16000}}', 1003)]
)
def test_bad_message_closes_that_client_only(
    base_url: str, speech, message: str, code: int
) -> None:
    samples, _ = speech
    with sync_client.connect(ws_url(base_url), additional_headers=AUTH) as good:
        good.send(pcm16(samples[: SR * 2]))
        assert json.loads(good.recv())
        with sync_client.connect(ws_url(base_url), additional_headers=AUTH) as bad:
            bad.send(pcm16(silence(0.1)))
            bad.recv()
            bad.send(message)  # a text frame where audio is due
            reply = json.loads(bad.recv())
            assert "error" in reply and "Traceback" not in reply["error"]
            with pytest.raises(ConnectionClosed):
                bad.recv()
            assert bad.close_code == code
        good.send(pcm16(samples[SR * 2 :]))
        good.send('{"eof" : 1}')
        replies = [json.loads(m) for m in good]
    assert any("25 мая" in r.get("text", "") for r in replies)


def test_a_vanished_client_frees_its_stream(base_url: str, service: Service, speech) -> None:
    samples, _ = speech
    with sync_client.connect(ws_url(base_url), additional_headers=AUTH) as ws:
        ws.send(pcm16(samples[:SR]))
        ws.recv()
        assert service.streams == 1
        ws.socket.shutdown(socket.SHUT_RDWR)  # gone without a close frame
        deadline = time.monotonic() + 10
        while service.streams and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.streams == 0


# ---------------------------------------------------------------- docs


def test_docs_examples_run_against_the_server(base_url: str) -> None:
    """The curl, openai and websockets examples of docs/serve.md, as written but for the
    address, the key and the real-time pause."""
    doc = (REPO / "docs" / "serve.md").read_text(encoding="utf-8")
    blocks = [
        (lang, code.replace("127.0.0.1:8000", base_url.removeprefix("http://")))
        for lang, code in re.findall(r"```(bash|python)\n(.*?)```", doc, re.S)
        if "127.0.0.1:8000" in code
    ]
    assert [lang for lang, _ in blocks] == ["bash", "python", "python"]
    outputs = []
    for lang, code in blocks:
        code = code.replace("sk-local", KEY).replace("asyncio.sleep(0.2)", "asyncio.sleep(0)")
        command = ["bash", "-c", code] if lang == "bash" else [sys.executable, "-c", code]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    shown = re.search(r"\n# (.*)\n", blocks[0][1]).group(1)
    assert outputs[0].startswith(shown.removesuffix(" ..."))
    assert outputs[1].startswith("Встреча назначена на 25 мая в 9:30")
    assert re.search(r"^\s*0\.\d+\s+1\.\d+ Встреча$", outputs[1], re.M)
    assert outputs[2].startswith("final: Встреча назначена на 25 мая в 9:30\n")


# ---------------------------------------------------------------- the streaming recogniser


def offline(service: Service, samples: np.ndarray) -> str:
    """The text of the whole pipeline over the same audio, as a file would get it."""
    return service.pipeline(Audio.from_array(samples)).text


def similar(a: str, b: str) -> float:
    """How alike two texts are by their letters (1.0: the same), ignoring case and spaces."""
    return difflib.SequenceMatcher(
        None, "".join(a.lower().split()), "".join(b.lower().split())
    ).ratio()


@pytest.fixture(scope="module")
def long_speech() -> np.ndarray:
    """About 10 s of speech without a pause long enough to end an utterance."""
    text = "поезд отправляется с третьего пути через десять минут пожалуйста не опаздывайте"
    return np.concatenate([silence(0.3), espeak(text), espeak(text), silence(0.8)])


def test_partials_cost_a_bounded_window_however_long_the_utterance(
    service: Service, long_speech: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = ServeOptions(left_context_s=1.0, right_context_s=0.5, partial_interval_s=0.5)
    engine = StreamEngine(service.pipeline, options)
    reference = offline(service, long_speech)
    windows: list[int] = []
    real = engine.backend.log_probs

    def counted(batch: list[np.ndarray]) -> list[np.ndarray]:
        windows.extend(len(x) for x in batch)
        return real(batch)

    monkeypatch.setattr(engine.backend, "log_probs", counted)
    recognizer = engine.open()
    partials, finals = [], []
    for offset in range(0, len(long_speech), SR // 10):
        finals += recognizer.feed(long_speech[offset : offset + SR // 10])
        partials.append(recognizer.partial)
    finals += recognizer.finish()
    assert len(finals) == 1
    assert similar(finals[0].text, reference) > 0.9
    bound = (1.0 + 0.5 + 0.5 + 0.1) * SR + 320 * 2  # left + interval + right + one message
    assert len(windows) > 15 and max(windows) <= bound
    assert partials[-12].split()[:3] == finals[0].text.lower().split()[:3]


def test_max_utterance_cuts_long_speech_without_losing_words(
    service: Service, long_speech: np.ndarray
) -> None:
    engine = StreamEngine(service.pipeline, ServeOptions(max_utterance_s=4.0))
    recognizer = engine.open()
    finals = []
    for offset in range(0, len(long_speech), SR // 5):
        finals += recognizer.feed(long_speech[offset : offset + SR // 5])
    finals += recognizer.finish()
    assert len(finals) >= 3
    for final in finals:
        assert final.words and final.words[-1].end - final.words[0].start <= 4.5
    words = [w for f in finals for w in f.words]
    assert all(a.end <= b.start + 0.02 for a, b in zip(words, words[1:], strict=False))
    streamed = " ".join(f.text for f in finals)  # a cut may split a word, none goes missing
    assert similar(streamed, offline(service, long_speech)) > 0.85


def test_serve_section_is_validated() -> None:
    from asr_pipeline.config import resolve_config
    from asr_pipeline.errors import ConfigError

    config = resolve_config({"serve": {"endpoint_silence_s": 0.8}})
    assert config.serve.endpoint_silence_s == 0.8 and config.serve.max_utterance_s == 20.0
    assert config.to_dict()["serve"]["endpoint_silence_s"] == 0.8
    assert config.hash == resolve_config({}).hash  # serving options do not shape transcripts
    from asr_pipeline.cli.configure import default_config_yaml

    written = yaml.safe_load(default_config_yaml())  # `config init` writes the section too
    assert resolve_config(written).serve == ServeOptions() and "serve" in written
    for bad in ({"endpoint_silence_s": 0}, {"endpoint_silence": 1}, {"left_context_s": "x"}):
        with pytest.raises(ConfigError, match=r"serve\."):
            resolve_config({"serve": bad})


def test_a_failing_stream_gets_an_error_without_traceback(
    base_url: str, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        partial = ""

        def feed(self, samples: np.ndarray) -> list:
            raise RuntimeError("secret internals")

    monkeypatch.setattr(service.engine, "open", Broken)
    with sync_client.connect(ws_url(base_url), additional_headers=AUTH) as ws:
        ws.send(pcm16(silence(0.2)))
        reply = json.loads(ws.recv())
        assert "error" in reply and "secret" not in reply["error"]
        with pytest.raises(ConnectionClosed):
            ws.recv()
        assert ws.close_code == 1011
    assert service.streams == 0


# ---------------------------------------------------------------- the command


@pytest.mark.parametrize(
    "arguments",
    [["--port", "0"], ["--max-streams", "0"], ["--set", "serve.endpoint_silence_s=-1"]],
)
def test_serve_command_refuses_bad_options_before_loading(arguments: list[str]) -> None:
    from typer.testing import CliRunner

    from asr_pipeline.cli import app

    result = CliRunner().invoke(app, ["serve", *arguments, "--model", str(MODEL)])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "Traceback" not in result.output
