"""Latency and capacity of ``asr-pipeline serve``: real-time WebSocket streams, an HTTP burst.

Starts the server (``asr-pipeline serve`` in its own process, loopback), then 1, 4 and 16
WebSocket clients at once, each streaming espeak-ng speech with pauses at real-time pace (0.1 s
frames of 16 kHz PCM, Vosk protocol), then a burst of concurrent HTTP uploads
(``/v1/audio/transcriptions``). Measured per utterance:

- final latency: from sending the frame that holds the utterance's last spoken sample to the
  arrival of its final (``{"result": ..., "text": ...}``);
- first-partial latency: from sending the utterance's first spoken frame to the first non-empty
  partial after it;
- errors: utterances without a final before the next one starts, failed connections, uploads
  that did not answer 200.

Models: ``demo`` is the demonstration model (``tests/fixtures/espeak-ru-tiny``), torch; ``xlsr53``
the full-size wav2vec2-large-xlsr-53 architecture at random init (cost does not depend on the
weights; no download), ONNX Runtime int8 (exported once, cached under the work folder).

    python benchmarks/bench_serve.py                        # demo model, 1, 4, 16 streams
    python benchmarks/bench_serve.py --model xlsr53 --streams 1,3,4 --utterances 3

Goals (2-core machine): demo model p95 final latency <= 0.8 s at 1 stream; xlsr53 >= 3 real-time
streams at p95 <= 1 s; no errors. Reference: Vosk's final arrives 1.5-2.5 s after speech
(alphacep/vosk-server #199, #203). The last line is for scripts; its latencies are those of the
largest stream count held (p95 final latency under 1 s and no errors; 1 stream if none). The
server's CPU seconds per second of streamed audio tell how many streams the cores could hold
when the machine is shared (cores / that figure)::

    streams_realtime=N final_p50_s=X final_p95_s=X first_partial_p50_s=X errors=N
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEMO_MODEL = REPO / "tests" / "fixtures" / "espeak-ru-tiny"
SR = 16_000
FRAME_S = 0.1
PAUSE_S = 1.5
HELD_P95_S = 1.0
SENTENCES = [
    "встреча назначена на двадцать пятое мая в девять тридцать",
    "пожалуйста приходите заранее и возьмите документы",
    "поезд отправляется с третьего пути через десять минут",
    "температура воздуха днём поднимется до двадцати пяти градусов",
    "мы обсудили план проекта и решили перенести встречу на четверг",
    "в библиотеке открылась выставка старинных книг",
]


@dataclass
class Utterance:
    samples: np.ndarray


@dataclass
class Result:
    finals: list[float] = field(default_factory=list)
    partials: list[float] = field(default_factory=list)
    errors: int = 0
    audio_s: float = 0.0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def espeak(text: str, speed: int, pitch: int) -> np.ndarray:
    import soundfile as sf

    from asr_pipeline.audio import resample

    wav = subprocess.run(
        ["espeak-ng", "-v", "ru", "-s", str(speed), "-p", str(pitch), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    data, rate = sf.read(io.BytesIO(wav), dtype="float32")
    data = resample(data, rate)
    loud = np.flatnonzero(np.abs(data) > 0.02)
    return data[loud[0] : loud[-1] + 1]


def make_utterances(count: int, seed: int) -> list[Utterance]:
    rng = random.Random(seed)
    return [
        Utterance(espeak(SENTENCES[(seed + i) % len(SENTENCES)], rng.randint(140, 175), 50))
        for i in range(count)
    ]


def pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


async def stream_client(url: str, utterances: list[Utterance], delay: float) -> Result:
    """One client at real-time pace; latencies per utterance."""
    import websockets

    result = Result()
    frame = round(FRAME_S * SR)
    noise = np.random.default_rng(0).normal(0, 1e-4, round(PAUSE_S * SR)).astype(np.float32)
    await asyncio.sleep(delay)
    try:
        async with websockets.connect(url, max_size=None) as ws:
            events: list[tuple[float, dict]] = []

            async def receive() -> None:
                async for message in ws:
                    events.append((time.perf_counter(), json.loads(message)))

            receiver = asyncio.create_task(receive())
            marks: list[tuple[float, float]] = []  # (first speech frame sent, last one sent)
            start = time.perf_counter()
            sent = 0
            for utterance in utterances:
                audio = np.concatenate([noise[: round(0.3 * SR)], utterance.samples, noise])
                speech_first = round(0.3 * SR)
                speech_last = speech_first + len(utterance.samples)
                first_sent = last_sent = 0.0
                for offset in range(0, len(audio), frame):
                    sent += frame
                    await asyncio.sleep(max(0.0, start + sent / SR - time.perf_counter()))
                    await ws.send(pcm(audio[offset : offset + frame]))
                    now = time.perf_counter()
                    if offset <= speech_first < offset + frame:
                        first_sent = now
                    if offset < speech_last <= offset + frame:
                        last_sent = now
                marks.append((first_sent, last_sent))
                result.audio_s += len(audio) / SR
            await ws.send('{"eof" : 1}')
            await asyncio.wait_for(receiver, timeout=60)
    except Exception as e:  # a failed connection counts, the run goes on
        print(f"  client error: {type(e).__name__}: {e}", file=sys.stderr)
        result.errors += len(utterances)
        return result
    for i, (first_sent, last_sent) in enumerate(marks):
        following = marks[i + 1][0] if i + 1 < len(marks) else float("inf")
        finals = [t for t, m in events if "text" in m and last_sent <= t < following]
        partials = [t for t, m in events if m.get("partial") and first_sent <= t]
        if finals:
            result.finals.append(finals[0] - last_sent)
        else:
            result.errors += 1
        if partials:
            result.partials.append(partials[0] - first_sent)
    return result


async def run_streams(url: str, clients: int, utterances: int) -> Result:
    speech = [make_utterances(utterances, seed=i) for i in range(clients)]
    stagger = FRAME_S / clients
    results = await asyncio.gather(
        *(stream_client(url, speech[i], delay=i * stagger) for i in range(clients))
    )
    total = Result()
    for r in results:
        total.finals += r.finals
        total.partials += r.partials
        total.errors += r.errors
        total.audio_s += r.audio_s
    return total


async def http_burst(base: str, count: int, wav: bytes) -> tuple[list[float], int]:
    import httpx

    async with httpx.AsyncClient(timeout=300) as client:

        async def one() -> tuple[float, bool]:
            begin = time.perf_counter()
            try:
                r = await client.post(
                    f"{base}/v1/audio/transcriptions",
                    files={"file": ("speech.wav", wav, "audio/wav")},
                    data={"model": "whisper-1", "response_format": "verbose_json"},
                )
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            return time.perf_counter() - begin, ok

        answers = await asyncio.gather(*(one() for _ in range(count)))
    return [t for t, _ in answers], sum(1 for _, ok in answers if not ok)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def start_server(args: argparse.Namespace, work: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "asr_pipeline", "serve", "--port", str(port)]
    command += ["--stages", "vad,ctc,numbers,casing", "--device", "cpu", "--max-streams", "64"]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if args.model == "demo":
        command += ["--model", str(DEMO_MODEL)]
    else:
        folder = work / "xlsr53-random"
        if not (folder / "config.json").exists():
            sys.path.insert(0, str(REPO / "benchmarks"))
            from bench_recognition import make_model

            print("saving the xlsr-53 architecture at random init ...", flush=True)
            make_model(folder)
        command += ["--model", str(folder), "--set", "stages.ctc.backend=onnx"]
        command += ["--set", "stages.ctc.quantize=int8"]
        env["ASR_PIPELINE_CACHE"] = str(work / "cache")
    server = subprocess.Popen(command, env=env)
    return server, f"http://127.0.0.1:{port}"


def wait_ready(server: subprocess.Popen, base: str, timeout: float = 1800) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not get ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("demo", "xlsr53"), default="demo")
    parser.add_argument("--streams", default="1,4,16", help="stream counts to try, in order")
    parser.add_argument("--utterances", type=int, default=4, help="utterances per stream")
    parser.add_argument("--burst", type=int, default=8, help="concurrent HTTP uploads")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the model here")
    args = parser.parse_args()
    import soundfile as sf

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-serve-"))
    work.mkdir(parents=True, exist_ok=True)
    server, base = start_server(args, work)
    try:
        began = time.perf_counter()
        wait_ready(server, base)
        print(f"model {args.model}: server ready in {time.perf_counter() - began:.1f} s")
        print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        url = base.replace("http://", "ws://") + "/v1/stream"
        rows: dict[int, Result] = {}
        print(
            f"{'streams':>7} {'final p50':>10} {'final p95':>10} {'partial p50':>12} "
            f"{'utterances':>10} {'errors':>6} {'load':>5} {'server CPU s per audio s':>24}"
        )
        for clients in (int(n) for n in args.streams.split(",")):
            cpu = cpu_seconds(server.pid)
            r = asyncio.run(run_streams(url, clients, args.utterances))
            cpu = (cpu_seconds(server.pid) - cpu) / max(r.audio_s, 1e-9)
            rows[clients] = r
            print(
                f"{clients:>7} {percentile(r.finals, 50):>10.3f} {percentile(r.finals, 95):>10.3f} "
                f"{percentile(r.partials, 50):>12.3f} {len(r.finals):>10} {r.errors:>6} "
                f"{os.getloadavg()[0]:>5.2f} {cpu:>24.3f}"
            )
        buffer = io.BytesIO()
        speech = np.concatenate([u.samples for u in make_utterances(3, seed=99)])
        sf.write(buffer, speech, SR, format="WAV", subtype="PCM_16")
        times, burst_errors = asyncio.run(http_burst(base, args.burst, buffer.getvalue()))
        audio_s = len(speech) / SR
        print(
            f"HTTP burst: {args.burst} uploads of {audio_s:.1f} s at once: "
            f"p50 {percentile(times, 50):.2f} s, "
            f"max {max(times):.2f} s, errors {burst_errors}, "
            f"throughput {args.burst * audio_s / max(times):.1f} s of audio per s"
        )
    finally:
        server.terminate()
        server.wait(30)
    held = [n for n, r in rows.items() if r.errors == 0 and percentile(r.finals, 95) < HELD_P95_S]
    best = max(held) if held else 0
    shown = rows[best] if best else rows[min(rows)]
    one = rows.get(1)
    if one is not None:
        goal = 0.8 if args.model == "demo" else HELD_P95_S
        print(
            f"1 stream: final p95 {percentile(one.finals, 95):.3f} s (goal <= {goal} s; "
            f"Vosk's reported 1.5-2.5 s)"
        )
    errors = sum(r.errors for r in rows.values()) + burst_errors
    print(
        f"streams_realtime={best} final_p50_s={percentile(shown.finals, 50):.3f} "
        f"final_p95_s={percentile(shown.finals, 95):.3f} "
        f"first_partial_p50_s={percentile(shown.partials, 50):.3f} errors={errors}"
    )


if __name__ == "__main__":
    main()
