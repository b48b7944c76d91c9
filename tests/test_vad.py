"""The vad stage: speech segments from generated audio, splitting, padding, modes, threads."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr_pipeline import Audio, ConfigError, Pipeline, Segment, Transcript
from asr_pipeline.config import options_of
from asr_pipeline.vad import FRAME_S, SpeechSegmenter, VadStage, pad_spans

SR = 16_000
VOWELS = [
    (730, 1090, 2440),
    (270, 2290, 3010),
    (300, 870, 2240),
    (530, 1840, 2480),
    (570, 840, 2410),
    (440, 1020, 2240),
    (660, 1720, 2410),
]


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Syllables of voiced sound: falling pitch, gliding formants, consonant noise, short gaps."""
    rng = np.random.default_rng(seed)
    total = int(seconds * SR)
    out = np.zeros(total)
    pos = 0
    while pos < total:
        n = min(int(rng.uniform(0.12, 0.3) * SR), total - pos)
        t = np.arange(n) / SR
        span = max(t[-1], 1e-3) if n else 1.0
        f0 = rng.uniform(100, 200) * (1 - 0.2 * t / span)
        phase = 2 * np.pi * np.cumsum(f0) / SR
        glide = (t / span)[:, None]
        a, b = (np.array(VOWELS[rng.integers(len(VOWELS))]) for _ in range(2))
        formants = a * (1 - glide) + b * glide
        x = np.zeros(n)
        for h in range(1, 35):
            gain = sum(1 / (1 + ((h * f0 - formants[:, k]) / (60 + 50 * k)) ** 2) for k in range(3))
            x += gain / h**0.3 * np.sin(h * phase)
        x = x / (np.abs(x).max() + 1e-9) * np.sin(np.pi * np.arange(n) / max(n, 1)) ** 0.5
        burst = int(rng.uniform(0.02, 0.06) * SR)
        if rng.random() < 0.6 and burst < n:
            noise = np.diff(rng.standard_normal(burst), prepend=0)
            x[:burst] = 0.3 * noise / np.abs(noise).max()
        out[pos : pos + n] = x * rng.uniform(0.5, 1.0)
        pos += n
        if rng.random() < 0.25:
            pos += int(rng.uniform(0.03, 0.1) * SR)
    return (0.5 * out).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int = SR) -> Path:
    sf.write(path, samples, rate)
    return path


def run_vad(audio: Audio, **options) -> list[Segment]:
    transcript = Pipeline().load(audio)
    return list(VadStage(**options)(transcript).segments)


@pytest.fixture(scope="module")
def pause_file(tmp_path_factory) -> Path:
    """Speech 1-5 s, a 3 s pause, speech 8-11 s, then 1 s of silence; 44.1 kHz on disk."""
    x = np.concatenate([silence(1), speechlike(4, 0), silence(3), speechlike(3, 10), silence(1)])
    t_in = np.arange(len(x)) / SR
    t_out = np.arange(len(x) * 44_100 // SR) / 44_100
    path = tmp_path_factory.mktemp("vad") / "pause.wav"
    sf.write(path, np.interp(t_out, t_in, x).astype(np.float32), 44_100)
    return path


# ---------------------------------------------------------------- end to end


def test_silence_gives_no_segments(tmp_path: Path):
    path = write_wav(tmp_path / "quiet.wav", silence(5))
    assert run_vad(Audio.open(path)) == []
    quiet_noise = (0.001 * np.random.default_rng(0).standard_normal(5 * SR)).astype(np.float32)
    assert run_vad(Audio.from_array(quiet_noise)) == []


def test_silent_file_through_the_pipeline_is_an_empty_transcript(tmp_path: Path):
    path = write_wav(tmp_path / "quiet.wav", silence(3))
    transcript = Pipeline.from_config({"pipeline": ["vad"]})(path)
    assert transcript.segments == ()
    assert transcript.duration == pytest.approx(3.0)
    assert transcript.text == ""


def test_cli_exits_0_with_an_empty_transcript_for_silence(tmp_path: Path):
    path = write_wav(tmp_path / "quiet.wav", silence(3))
    command = [sys.executable, "-m", "asr_pipeline", "transcribe", str(path), "--stages", "vad"]
    command += ["-o", str(tmp_path / "out"), "-f", "json,txt"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out" / "quiet.json").read_text())["segments"] == []
    assert (tmp_path / "out" / "quiet.txt").read_text().strip() == ""


def test_long_pause_gives_two_segments_without_the_pause(pause_file: Path):
    segments = run_vad(Audio.open(pause_file), speech_pad_s=0.2, min_silence_s=0.5)
    assert len(segments) == 2
    first, second = segments
    assert first.start == pytest.approx(1.0, abs=0.35)
    assert first.end == pytest.approx(5.0, abs=0.4)
    assert second.start == pytest.approx(8.0, abs=0.35)
    assert second.end == pytest.approx(11.0, abs=0.4)
    assert first.end <= 5.5 and second.start >= 7.5  # the pause itself is never inside
    assert all(s.words == () and s.channel is None and s.speaker is None for s in segments)


def test_noise_and_tones_are_not_speech():
    rng = np.random.default_rng(3)
    t = np.arange(6 * SR) / SR
    noise = 0.3 * rng.standard_normal(6 * SR)
    tones = 0.5 * np.sin(2 * np.pi * 440 * t) * (t < 3) + 0.5 * np.sin(2 * np.pi * 1000 * t) * (
        t >= 3
    )
    for signal in (noise, tones):
        assert run_vad(Audio.from_array(signal.astype(np.float32))) == []


def test_over_long_speech_is_split_below_the_maximum():
    speech = speechlike(26, 5)
    audio = Audio.from_array(np.concatenate([silence(1), speech, silence(1)]))
    segments = run_vad(audio, max_segment_s=8.0, speech_pad_s=0.2)
    assert len(segments) >= 4
    assert all(s.end - s.start <= 8.0 + 1e-9 for s in segments)
    assert all(a.end <= b.start for a, b in zip(segments, segments[1:], strict=False))
    covered = sum(s.end - s.start for s in segments)
    assert covered >= 0.9 * 26
    unsplit = run_vad(audio, max_segment_s=None)
    assert len(unsplit) < len(segments)
    assert max(s.end - s.start for s in unsplit) > 8.0


def test_backends_agree(pause_file: Path):
    audio = Audio.open(pause_file)
    onnx = np.concatenate(list(VadStage(backend="onnx").speech_probabilities(audio)))
    torch_probs = np.concatenate(list(VadStage(backend="torch").speech_probabilities(audio)))
    assert len(onnx) == len(torch_probs) == int(np.ceil(audio.duration / FRAME_S))
    np.testing.assert_allclose(onnx, torch_probs, atol=1e-3)
    assert run_vad(audio, backend="torch") == run_vad(audio, backend="onnx")


def test_segments_start_from_the_input_segment(pause_file: Path):
    audio = Audio.open(pause_file)
    transcript = Transcript(segments=(Segment(6.0, audio.duration),), audio=audio)
    segments = VadStage()(transcript).segments
    assert len(segments) == 1
    assert segments[0].start == pytest.approx(8.0, abs=0.35)
    assert segments[0].start >= 6.0


def test_each_channel_keeps_its_channel_and_speaker(tmp_path: Path):
    left = np.concatenate([silence(0.5), speechlike(3, 1), silence(5.5)])
    right = np.concatenate([silence(5.5), speechlike(3, 2), silence(0.5)])
    path = tmp_path / "call.wav"
    sf.write(path, np.stack([left, right], axis=1), SR)
    pipeline = Pipeline.from_config(
        {"pipeline": ["vad"], "input": {"channels": True, "speakers": ["Анна", "Борис"]}}
    )
    segments = pipeline(path).segments
    assert [(s.channel, s.speaker) for s in segments] == [(0, "Анна"), (1, "Борис")]
    assert segments[0].start == pytest.approx(0.5, abs=0.35)
    assert segments[1].start == pytest.approx(5.5, abs=0.35)
    assert segments[0].end <= 4.0 + 0.5


def test_text_only_transcript_passes_through_unchanged():
    transcript = Transcript.from_text("просто текст без звука")
    assert VadStage()(transcript) is transcript


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_synthesised_russian_speech_with_a_pause(tmp_path: Path):
    phrases = ["Добрый день, сегодня мы поговорим о погоде.", "Завтра будет тепло и солнечно."]
    parts = []
    for i, text in enumerate(phrases):
        wav = tmp_path / f"{i}.wav"
        subprocess.run(["espeak-ng", "-v", "ru", "-w", str(wav), text], check=True)
        samples, rate = sf.read(wav, dtype="float32")
        parts.append(samples)
    gap = np.zeros(3 * rate, np.float32)
    path = write_wav(
        tmp_path / "speech.wav", np.concatenate([gap, parts[0], gap, parts[1], gap]), rate
    )
    segments = run_vad(Audio.open(path))
    first_end = (3 * rate + len(parts[0])) / rate
    assert len(segments) == 2
    assert segments[0].start == pytest.approx(3.0, abs=0.4)
    assert segments[0].end <= first_end + 0.5 < segments[1].start
    assert segments[1].start == pytest.approx(first_end + 3.0, abs=0.4)


# ---------------------------------------------------------------- fixed mode


def test_fixed_mode_cuts_plain_windows_without_a_model():
    stage = VadStage(mode="fixed", fixed_s=4.0)
    audio = Audio.from_array(silence(10))
    transcript = Transcript(segments=(Segment(0.0, 10.0, speaker="A", channel=0),), audio=audio)
    segments = stage(transcript).segments
    assert [(s.start, s.end) for s in segments] == [(0.0, 4.0), (4.0, 8.0), (8.0, 10.0)]
    assert {(s.speaker, s.channel) for s in segments} == {("A", 0)}


# ---------------------------------------------------------------- the segmenter


def segment_probs(probs: list[float], **options) -> list[tuple[int, int]]:
    options = {"threshold": 0.5, "min_speech": 1, "min_silence": 3, **options}
    segmenter = SpeechSegmenter(**options)
    # Fed in uneven pieces: results must not depend on block boundaries.
    spans = []
    for piece in np.array_split(np.asarray(probs), 4):
        spans += segmenter.feed(piece)
    return spans + segmenter.finish()


def test_short_pauses_and_blips():
    probs = [0.0] * 5 + [0.9] * 10 + [0.0] * 2 + [0.9] * 10 + [0.0] * 10 + [0.9] + [0.0] * 5
    assert segment_probs(probs, min_speech=3) == [(5, 27)]
    assert segment_probs(probs, min_speech=1) == [(5, 27), (37, 38)]
    assert segment_probs(probs, min_speech=1, min_silence=2) == [(5, 15), (17, 27), (37, 38)]


def test_hysteresis_keeps_speech_between_the_two_thresholds():
    probs = [0.9] * 5 + [0.4] * 10 + [0.9] * 5 + [0.1] * 5
    assert segment_probs(probs) == [(0, 20)]


def test_split_happens_at_the_quietest_frame_in_the_window():
    probs = [0.95] * 100
    probs[20] = 0.6  # quiet, but before the allowed window (frames 40..80)
    probs[65] = 0.55  # the quietest point inside it
    probs[72] = 0.7
    assert segment_probs(probs, max_frames=80) == [(0, 65), (65, 100)]


def test_split_pieces_never_exceed_the_maximum():
    rng = np.random.default_rng(0)
    probs = list(0.6 + 0.4 * rng.random(1000))
    spans = segment_probs(probs, max_frames=50)
    assert all(end - start <= 50 for start, end in spans)
    assert spans[0][0] == 0 and spans[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_padding_never_overlaps_and_stays_inside_the_audio():
    spans = [(0.1, 1.0), (1.2, 2.0), (3.0, 4.0), (4.0, 4.9)]
    padded = pad_spans(spans, 0.3, 0.0, 5.0)
    expected = [(0.0, 1.1), (1.1, 2.3), (2.7, 4.0), (4.0, 5.0)]
    assert np.asarray(padded) == pytest.approx(np.asarray(expected))


# ---------------------------------------------------------------- options and threads


def test_every_option_is_documented_and_validated():
    options = options_of(VadStage)
    assert set(options) == {
        "mode",
        "backend",
        "threshold",
        "min_speech_s",
        "min_silence_s",
        "speech_pad_s",
        "max_segment_s",
        "fixed_s",
    }
    assert all(option.help for option in options.values())
    with pytest.raises(ConfigError, match="threshold"):
        VadStage(mode="fixed", threshold=1.5)
    with pytest.raises(ConfigError, match="max_segment_s"):
        VadStage(mode="fixed", max_segment_s=0.3, speech_pad_s=0.2)
    with pytest.raises(ConfigError, match="stages.vad.mode"):
        Pipeline.from_config({"pipeline": ["vad"], "stages": {"vad": {"mode": "energy"}}})


def test_building_and_running_vad_keeps_torch_thread_count(tmp_path: Path):
    # A fresh interpreter: importing silero_vad anywhere earlier would hide the problem.
    path = write_wav(tmp_path / "speech.wav", np.concatenate([silence(0.5), speechlike(2)]))
    script = textwrap.dedent(
        f"""
        import json, sys
        import torch
        torch.set_num_threads(3)
        from asr_pipeline import Pipeline
        from asr_pipeline.vad import VadStage
        counts = []
        for backend in ("onnx", "torch"):
            stage = VadStage(backend=backend)
            counts.append(torch.get_num_threads())
            segments = stage(Pipeline().load({str(path)!r})).segments
            counts.append(torch.get_num_threads())
        print(json.dumps({{"counts": counts, "segments": len(segments),
                          "silero_imported": "silero_vad" in sys.modules}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["counts"] == [3, 3, 3, 3]
    assert report["segments"] == 1
    assert report["silero_imported"] is False
