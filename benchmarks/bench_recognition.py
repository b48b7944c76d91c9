"""Speed and memory of the ``ctc`` stage against the transformers ASR pipeline, side by side.

The model is the full-size wav2vec2-large-xlsr-53 architecture (24 layers, hidden 1024) at random
initialisation with the project's 40-letter Russian vocabulary: cost does not depend on the
weights, and no download is needed. The audio is N minutes of Russian speech with pauses, made
with ``espeak-ng -v ru``. Each variant runs in its own process (for honest peak RSS):

- ``hf``: ``transformers.pipeline("automatic-speech-recognition", chunk_length_s=20)`` over the
  whole file (the baseline);
- ``fp32``: speech segments (the ``vad`` stage when it loads, else a simple energy split) then
  the ``ctc`` stage in float32;
- ``int8``: the same with ``quantize: int8``;
- ``onnx_fp32`` and ``onnx_int8``: the same two with ``backend: onnx`` (ONNX Runtime). The export
  happens while the stage is built (counted in ``load s``); it is cached in ``<workdir>/cache``
  unless ``ASR_PIPELINE_CACHE`` is set.

Times cover recognition of the file (segmentation included for ours), not model loading; on a
shared machine the CPU seconds (all threads of the process) are the steadier comparison. The
CER compares our greedy text with the baseline pipeline's text on the same segments (its output
over the pauses between them is left out: a random model emits letters on silence too). The
agreement of the ONNX variants is 1 - CER of their text against the torch fp32 text.

    python benchmarks/bench_recognition.py --minutes 1
    python benchmarks/bench_recognition.py --minutes 5 --workdir /tmp/bench-asr   # keeps files
    python benchmarks/bench_recognition.py --minutes 1 --repeats 3   # fastest of 3 runs each

The last line is for scripts::

    speedup_fp32=X speedup_int8=X rtf_hf=X rtf_fp32=X rtf_int8=X peak_rss_mb_fp32=X cer_vs_hf=X \
    speedup_onnx_fp32=X speedup_onnx_int8=X agree_onnx_int8=X
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VOCAB_FILE = REPO / "tests" / "fixtures" / "ru_vocab.json"
SAMPLE_RATE = 16_000
CHUNK_LENGTH_S = 20
VARIANTS = ("hf", "fp32", "int8", "onnx_fp32", "onnx_int8")
OURS = {  # variant: (backend, quantize)
    "fp32": ("torch", "none"),
    "int8": ("torch", "int8"),
    "onnx_fp32": ("onnx", "none"),
    "onnx_int8": ("onnx", "int8"),
}

SENTENCES = [
    "Сегодня утром в городе прошёл сильный дождь, и многие жители опоздали на работу.",
    "Министерство сообщило, что новые правила вступят в силу в начале следующего года.",
    "Мы обсудили план проекта и решили перенести встречу на четверг.",
    "В библиотеке открылась выставка старинных книг и рукописей.",
    "Температура воздуха днём поднимется до двадцати пяти градусов.",
    "Команда долго готовилась к соревнованиям и заняла второе место.",
    "Пожалуйста, пришлите мне отчёт до конца недели.",
    "На совещании обсуждали бюджет, сроки и распределение обязанностей.",
    "Поезд отправляется с третьего пути через десять минут.",
    "Учёные изучают влияние климата на урожайность пшеницы в южных регионах.",
    "Я думаю, что это решение нужно принимать вместе с коллегами.",
    "Вечером по телевизору показывали интервью с известным писателем.",
    "Компания планирует открыть новый офис в Новосибирске.",
    "Дети с удовольствием играли во дворе до самого вечера.",
    "Если у вас есть вопросы, задавайте их после доклада.",
    "Врач посоветовал больше гулять на свежем воздухе и меньше сидеть за компьютером.",
]


# ---------------------------------------------------------------- audio and model


def make_speech(minutes: float, path: Path, seed: int = 0) -> float:
    """Synthesise ``minutes`` of Russian speech with pauses into a 16 kHz mono WAV."""
    import numpy as np
    import soundfile as sf

    rng = random.Random(seed)
    target = minutes * 60 * SAMPLE_RATE
    parts: list[np.ndarray] = []
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        raw, resampled = Path(tmp) / "raw.wav", Path(tmp) / "16k.wav"
        i = 0
        while total < target:
            text = SENTENCES[i % len(SENTENCES)]
            speed, pitch = rng.randint(135, 175), rng.randint(35, 65)
            subprocess.run(
                ["espeak-ng", "-v", "ru", "-s", str(speed), "-p", str(pitch), "-w", str(raw), text],
                check=True,
            )
            subprocess.run(
                ["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(resampled)],
                check=True,
            )
            speech, _ = sf.read(resampled, dtype="float32")
            pause = np.zeros(round(rng.uniform(0.4, 1.5) * SAMPLE_RATE), dtype=np.float32)
            parts += [speech, pause]
            total += len(speech) + len(pause)
            i += 1
    samples = np.concatenate(parts)[: int(target)]
    sf.write(path, samples, SAMPLE_RATE, subtype="PCM_16")
    return len(samples) / SAMPLE_RATE


def make_model(folder: Path) -> None:
    """Save the xlsr-53 architecture at random init, with feature extractor and tokenizer."""
    import torch
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
    )

    torch.manual_seed(0)
    config = Wav2Vec2Config(  # the shape of jonatasgrosman/wav2vec2-large-xlsr-53-russian
        vocab_size=40,
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        intermediate_size=4096,
        conv_dim=(512,) * 7,
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        conv_bias=True,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        num_conv_pos_embeddings=128,
        num_conv_pos_embedding_groups=16,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    Wav2Vec2ForCTC(config).eval().save_pretrained(folder)
    Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=SAMPLE_RATE,
        padding_value=0.0,
        do_normalize=True,
        return_attention_mask=True,
    ).save_pretrained(folder)
    shutil.copyfile(VOCAB_FILE, folder / "vocab.json")
    Wav2Vec2CTCTokenizer(
        str(folder / "vocab.json"),
        unk_token="<unk>",
        pad_token="<pad>",
        word_delimiter_token="|",
    ).save_pretrained(folder)


# ---------------------------------------------------------------- segmentation


def energy_segments(samples, frame_s: float = 0.03, floor_db: float = 35.0):
    """Speech spans by frame energy: louder than (loudest - floor_db), pauses under 0.3 s
    bridged, 0.1 s of padding."""
    import numpy as np

    frame = round(frame_s * SAMPLE_RATE)
    n = len(samples) // frame
    energy = (samples[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    db = 10 * np.log10(energy + 1e-12)
    voiced = db > db.max() - floor_db
    spans, start, gap = [], None, 0
    for i, v in enumerate(voiced):
        if v:
            start = i if start is None else start
            gap = 0
        elif start is not None:
            gap += 1
            if gap * frame_s >= 0.3:
                spans.append((start, i - gap + 1))
                start, gap = None, 0
    if start is not None:
        spans.append((start, n))
    duration = len(samples) / SAMPLE_RATE
    return [
        (max(0.0, a * frame_s - 0.1), min(duration, b * frame_s + 0.1))
        for a, b in spans
        if (b - a) * frame_s >= 0.2
    ]


def segment(transcript, samples):
    """Speech segments of the transcript: the vad stage if it works here, else energy."""
    from dataclasses import replace

    from asr_pipeline import Segment

    try:
        from asr_pipeline.vad import VadStage

        return VadStage()(transcript), "vad stage (silero)"
    except Exception as e:  # the vad stage or its model is unavailable
        spans = energy_segments(samples)
        reason = f"energy split ({type(e).__name__}: {str(e)[:80]})"
        return replace(transcript, segments=tuple(Segment(a, b) for a, b in spans)), reason


# ---------------------------------------------------------------- variants (child processes)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def open_transcript(wav: Path):
    import soundfile as sf

    from asr_pipeline import Audio, Pipeline

    samples, _ = sf.read(wav, dtype="float32")
    try:
        audio = Audio.open(str(wav))
    except Exception:
        audio = Audio.from_array(samples, source=str(wav))
    return Pipeline().load(audio), samples


def timed(fn, repeats: int):
    """``fn()``'s result with its fastest wall and CPU seconds over ``repeats`` runs."""
    walls, cpus = [], []
    for _ in range(max(1, repeats)):
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return result, min(walls), min(cpus)


def run_ours(
    wav: Path, model: Path, quantize: str, backend: str = "torch", repeats: int = 1
) -> dict:
    from asr_pipeline.ctc import CtcStage

    transcript, samples = open_transcript(wav)
    started = time.perf_counter()
    stage = CtcStage(model=str(model), device="cpu", quantize=quantize, backend=backend)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    segmented, how = segment(transcript, samples)
    segment_s = time.perf_counter() - started
    out, seconds, cpu_s = timed(lambda: stage(segment(transcript, samples)[0]), repeats)
    import torch

    return {
        "seconds": seconds,
        "cpu_s": cpu_s,
        "load_s": load_s,
        "segment_s": segment_s,
        "segmentation": how,
        "threads": stage.backend.threads if backend == "onnx" else torch.get_num_threads(),
        "segments": [[s.start, s.end] for s in out.segments],
        "texts": [s.text for s in out.segments],
        "speech_s": sum(s.end - s.start for s in out.segments),
    }


def run_hf(wav: Path, model: Path, segments_file: Path | None, repeats: int = 1) -> dict:
    import torch
    from transformers import pipeline

    transcript, samples = open_transcript(wav)
    started = time.perf_counter()
    asr = pipeline(
        "automatic-speech-recognition",
        model=str(model),
        chunk_length_s=CHUNK_LENGTH_S,
        device="cpu",
    )
    load_s = time.perf_counter() - started
    output, seconds, cpu_s = timed(lambda: asr(samples.copy()), repeats)
    text = output["text"]
    result = {
        "seconds": seconds,
        "cpu_s": cpu_s,
        "load_s": load_s,
        "threads": torch.get_num_threads(),
        "text": text,
        "peak_rss_mb": peak_rss_mb(),
    }
    if segments_file is not None:  # untimed: the reference text on our segments
        segments = json.loads(segments_file.read_text())
        result["texts"] = [
            asr(samples[round(a * SAMPLE_RATE) : round(b * SAMPLE_RATE)].copy())["text"]
            for a, b in segments
        ]
    return result


def child(args: argparse.Namespace) -> None:
    if args.variant == "hf":
        result = run_hf(args.audio, args.model, args.segments, args.repeats)
    else:
        backend, quantize = OURS[args.variant]
        result = run_ours(args.audio, args.model, quantize, backend, args.repeats)
    result.setdefault("peak_rss_mb", peak_rss_mb())
    args.out.write_text(json.dumps(result, ensure_ascii=False))


def run_variant(
    variant: str, wav: Path, model: Path, work: Path, segments: Path | None, repeats: int = 1
) -> dict:
    out = work / f"{variant}.json"
    command = [
        sys.executable,
        __file__,
        "--variant",
        variant,
        "--audio",
        str(wav),
        "--model",
        str(model),
        "--out",
        str(out),
        "--repeats",
        str(repeats),
    ]
    if segments is not None:
        command += ["--segments", str(segments)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.setdefault("ASR_PIPELINE_CACHE", str(work / "cache"))  # the ONNX exports
    subprocess.run(command, check=True, env=env)
    return json.loads(out.read_text())


# ---------------------------------------------------------------- report


def cer(reference: str, hypothesis: str) -> float:
    import jiwer

    return float(jiwer.cer(reference, hypothesis)) if reference else float(bool(hypothesis))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="minutes of speech to make")
    parser.add_argument("--workdir", type=Path, help="keep audio, model and results here")
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs per variant; the fastest counts (busy CPUs)"
    )
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--audio", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--segments", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        child(args)
        return

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-recognition-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        wav = work / f"speech_{args.minutes:g}min.wav"
        if not wav.exists():
            print(f"making {args.minutes:g} min of speech with espeak-ng -v ru ...", flush=True)
            make_speech(args.minutes, wav)
        model = work / "xlsr53-random"
        if not (model / "config.json").exists():
            print("saving the xlsr-53 architecture at random init ...", flush=True)
            make_model(model)
        import soundfile as sf

        duration = sf.info(str(wav)).duration
        print(f"audio: {duration:.1f} s; cpu cores: {len(os.sched_getaffinity(0))}", flush=True)

        results = {}
        for variant in OURS:
            results[variant] = run_variant(variant, wav, model, work, None, args.repeats)
            print(f"{variant}: {results[variant]['seconds']:.1f} s", flush=True)
        segments = work / "segments.json"
        segments.write_text(json.dumps(results["fp32"]["segments"]))
        results["hf"] = run_variant("hf", wav, model, work, segments, args.repeats)
        print(f"hf: {results['hf']['seconds']:.1f} s", flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    ours, base = results["fp32"], results["hf"]
    print(
        f"\nsegmentation: {ours['segmentation']}; {len(ours['segments'])} segments, "
        f"{ours['speech_s']:.1f} s of {duration:.1f} s; torch threads: {ours['threads']}; "
        f"onnxruntime threads: {results['onnx_fp32']['threads']}"
    )
    print(
        f"{'variant':<11}{'seconds':>9}{'RTF':>8}{'speedup':>9}{'peak RSS MB':>13}{'load s':>8}"
        f"{'CPU s':>8}{'CPU speedup':>13}"
    )
    for name in VARIANTS:
        r = results[name]
        print(
            f"{name:<11}{r['seconds']:>9.1f}{r['seconds'] / duration:>8.3f}"
            f"{base['seconds'] / r['seconds']:>9.2f}{r['peak_rss_mb']:>13.0f}{r['load_s']:>8.1f}"
            f"{r['cpu_s']:>8.1f}{base['cpu_s'] / r['cpu_s']:>13.2f}"
        )
    reference = " ".join(t for t in base["texts"] if t.strip())
    cer_fp32 = cer(reference, " ".join(t for t in ours["texts"] if t))
    cer_int8 = cer(reference, " ".join(t for t in results["int8"]["texts"] if t))
    cer_file = cer(base["text"], " ".join(t for t in ours["texts"] if t))
    print(
        f"CER of our fp32 text vs the baseline's on the same segments: {cer_fp32:.4f} "
        f"({len(reference)} characters); int8 vs baseline: {cer_int8:.4f}; "
        f"fp32 vs the baseline's whole-file text (letters on pauses included): {cer_file:.4f}"
    )
    torch_text = " ".join(t for t in ours["texts"] if t)
    agree = {
        name: max(0.0, 1 - cer(torch_text, " ".join(t for t in results[name]["texts"] if t)))
        for name in ("onnx_fp32", "onnx_int8")
    }
    same = results["onnx_fp32"]["texts"] == ours["texts"]
    print(
        f"agreement with the torch fp32 text (1 - CER): onnx fp32 {agree['onnx_fp32']:.4f} "
        f"(identical text: {'yes' if same else 'no'}), onnx int8 {agree['onnx_int8']:.4f}"
    )
    figures = {
        "speedup_fp32": base["seconds"] / ours["seconds"],
        "speedup_int8": base["seconds"] / results["int8"]["seconds"],
        "rtf_hf": base["seconds"] / duration,
        "rtf_fp32": ours["seconds"] / duration,
        "rtf_int8": results["int8"]["seconds"] / duration,
        "peak_rss_mb_fp32": ours["peak_rss_mb"],
        "cer_vs_hf": cer_fp32,
        "speedup_onnx_fp32": base["seconds"] / results["onnx_fp32"]["seconds"],
        "speedup_onnx_int8": base["seconds"] / results["onnx_int8"]["seconds"],
        "agree_onnx_int8": agree["onnx_int8"],
    }
    print(
        " ".join(
            f"{k}={v:.0f}" if k.startswith("peak") else f"{k}={v:.3f}" for k, v in figures.items()
        )
    )


if __name__ == "__main__":
    main()
