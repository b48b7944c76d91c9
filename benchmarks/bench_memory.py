"""Peak memory of audio input + VAD on a 10-minute and a 2-hour file, and VAD speed per backend.

Generates two files of speech-like sound and pauses (44.1 kHz mono, so decoding and resampling
are both exercised) into a temporary folder, then runs each variant in its own subprocess and
reads its peak resident memory (``VmHWM``):

* ``streaming``: ``Audio.open`` + ``Pipeline.load`` + the ``vad`` stage + a stub recognizer that
  reads every speech segment's samples through the audio handle (what ``ctc`` does);
* ``whole file``: the baseline, the same work after decoding the whole file into memory.

Then times the ``vad`` stage on the 10-minute file with each Silero backend, beside decoding
alone. Usage::

    python benchmarks/bench_memory.py                 # 10 min vs 2 h, flac
    python benchmarks/bench_memory.py --format mp3    # slower to generate
    python benchmarks/bench_memory.py --short 60 --long 600 --keep /tmp/bench-audio
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SR = 16_000
FILE_RATE = 44_100
CODECS = {"flac": "flac", "mp3": "libmp3lame", "wav": "pcm_s16le", "opus": "libopus"}
VOWELS = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480)]


# ---------------------------------------------------------------- generating audio


def speechlike(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Voiced syllables with gliding formants and falling pitch (Silero scores it as speech)."""
    out = np.zeros(int(seconds * SR))
    pos = 0
    while pos < len(out):
        n = min(int(rng.uniform(0.12, 0.3) * SR), len(out) - pos)
        t = np.arange(n) / SR
        span = max(t[-1], 1e-3) if n else 1.0
        f0 = rng.uniform(100, 200) * (1 - 0.2 * t / span)
        phase = 2 * np.pi * np.cumsum(f0) / SR
        glide = (t / span)[:, None]
        a, b = (np.array(VOWELS[rng.integers(len(VOWELS))]) for _ in range(2))
        formants = a * (1 - glide) + b * glide
        x = np.zeros(n)
        for h in range(1, 30):
            gain = sum(1 / (1 + ((h * f0 - formants[:, k]) / (60 + 50 * k)) ** 2) for k in range(3))
            x += gain / h**0.3 * np.sin(h * phase)
        x = x / (np.abs(x).max() + 1e-9) * np.sin(np.pi * np.arange(n) / max(n, 1)) ** 0.5
        out[pos : pos + n] = x * rng.uniform(0.2, 0.5)
        pos += n + (int(rng.uniform(0.03, 0.1) * SR) if rng.random() < 0.25 else 0)
    return out.astype(np.float32)


def pattern() -> np.ndarray:
    """One minute: speech and pauses, including 35 s of speech that must be split."""
    rng = np.random.default_rng(0)
    quiet = [np.zeros(int(s * SR), np.float32) for s in (2.0, 1.0, 2.0)]
    parts = [speechlike(8, rng), quiet[0], speechlike(12, rng), quiet[1]]
    parts += [speechlike(35, rng), quiet[2]]
    return np.concatenate(parts)


def write_file(path: Path, seconds: int, minute: np.ndarray, fmt: str) -> None:
    """Write ``seconds`` of the repeated one-minute pattern, block by block."""
    import av

    rate, sample_format, frame_size = {
        "flac": (FILE_RATE, "s16", None),
        "wav": (FILE_RATE, "s16", None),
        "mp3": (FILE_RATE, "fltp", None),
        "opus": (48_000, "flt", 960),
    }[fmt]
    resampler = av.AudioResampler(sample_format, "mono", rate, frame_size=frame_size)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(CODECS[fmt], rate=rate, layout="mono")
        stream.codec_context.format = sample_format
        written = 0
        while written < seconds * SR:
            chunk = minute[: seconds * SR - written]
            frame = av.AudioFrame.from_ndarray(chunk[None], format="flt", layout="mono")
            frame.sample_rate = SR
            frame.pts = written
            for out in resampler.resample(frame):
                out.pts = None
                container.mux(stream.encode(out))
            written += len(chunk)
        for out in resampler.resample(None):
            out.pts = None
            container.mux(stream.encode(out))
        container.mux(stream.encode(None))


# ---------------------------------------------------------------- child processes


def stub_recognizer(transcript):
    """Reads every segment's samples through the audio handle, as a recognizer does."""
    from dataclasses import replace

    from asr_pipeline import Word

    audio = transcript.audio

    def recognise(segment):
        if audio.samples is not None:  # in memory: slice first (Audio.read would mix it all)
            lo, hi = round(segment.start * SR), round(segment.end * SR)
            picked = audio.samples[:, lo:hi]
            samples = picked.mean(axis=0) if segment.channel is None else picked[segment.channel]
        else:
            samples = audio.read(segment.start, segment.end, channel=segment.channel)
        rms = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
        return replace(segment, words=(Word("слово", segment.start, segment.end, min(rms, 1.0)),))

    return transcript.map_segments(recognise)


def child(path: str, variant: str, backend: str) -> dict:
    """One variant in this process; ``setup_s`` is imports and model loading, ``run_s`` the
    work itself (decoding included)."""
    started = time.perf_counter()
    from asr_pipeline import Audio, Pipeline

    result: dict = {}
    pipeline = None
    if variant != "decode":
        pipeline = Pipeline().add_stage("vad", config={"backend": backend})
        if variant != "vad":
            pipeline.add_stage(stub_recognizer, "stub")
    ready = time.perf_counter()
    audio = Audio.open(path)
    if variant == "whole":  # the baseline: the whole file decoded into memory first
        audio = Audio.from_array(audio.read(), source=path)
    if pipeline is None:
        result["samples"] = sum(len(b) for _, b in audio.blocks(30.0))
    else:
        transcript = pipeline(audio)
        result["segments"] = len(transcript.segments)
        result["longest_s"] = max((s.end - s.start for s in transcript.segments), default=0.0)
    finished = time.perf_counter()
    result["setup_s"] = ready - started
    result["run_s"] = finished - ready
    result["duration_s"] = audio.duration
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux keeps ``ru_maxrss`` across exec (it would
    report the parent's peak), so read the high-water mark ``VmHWM`` where it exists."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(path: Path, variant: str, backend: str = "onnx") -> dict:
    command = [sys.executable, __file__, "--child", str(path), variant, backend]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{variant} on {path.name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=sorted(CODECS), default="flac")
    parser.add_argument("--short", type=int, default=600, help="seconds of the short file")
    parser.add_argument("--long", type=int, default=7200, help="seconds of the long file")
    parser.add_argument("--keep", type=Path, help="generate into (and reuse) this folder")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        minute = pattern()
        files = {}
        for label, seconds in (("short", args.short), ("long", args.long)):
            path = folder / f"{label}-{seconds}s.{args.format}"
            if not path.exists():
                started = time.perf_counter()
                write_file(path, seconds, minute, args.format)
                took = time.perf_counter() - started
                print(f"generated {path.name}: {path.stat().st_size / 1e6:.1f} MB in {took:.1f} s")
            files[label] = path

        names = (f"{args.short / 60:g} min", f"{args.long / 60:g} min")
        print(f"\npeak RSS (MB), each in its own process; {args.format} 44.1 kHz mono, vad onnx")
        print(f"{'variant':<32}{names[0]:>10}{names[1]:>10}{'ratio':>8}   segments")
        variants = (
            ("streaming", "streaming (probe+vad+stub)"),
            ("whole", "whole file in memory (baseline)"),
        )
        for variant, label in variants:
            short, long = (run_child(files[k], variant) for k in ("short", "long"))
            ratio = long["peak_rss_mb"] / short["peak_rss_mb"]
            print(
                f"{label:<32}{short['peak_rss_mb']:>10.1f}{long['peak_rss_mb']:>10.1f}"
                f"{ratio:>8.2f}   {short['segments']} / {long['segments']}"
                f" (longest {max(short['longest_s'], long['longest_s']):.2f} s)"
            )

        print(f"\nvad speed on the {names[0]} file (RTF = run time / audio time; setup apart)")
        print(f"{'what':<26}{'setup s':>8}{'run s':>8}{'RTF':>9}{'x realtime':>12}{'peak MB':>9}")
        for label, variant, backend in (
            ("decode + resample only", "decode", "onnx"),
            ("vad, backend onnx", "vad", "onnx"),
            ("vad, backend torch", "vad", "torch"),
        ):
            r = run_child(files["short"], variant, backend)
            rtf = r["run_s"] / r["duration_s"]
            print(
                f"{label:<26}{r['setup_s']:>8.2f}{r['run_s']:>8.2f}{rtf:>9.4f}{1 / rtf:>12.0f}"
                f"{r['peak_rss_mb']:>9.1f}"
            )


if __name__ == "__main__":
    main()
