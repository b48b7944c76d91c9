"""Audio input: probing, block streaming, resampling and bad files, on audio encoded here."""

from __future__ import annotations

import builtins
import os
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from asr_pipeline import Audio, AudioError
from asr_pipeline.audio import probe, resample, stream

SR = 16_000

# extension -> (encoder, sample rate the encoder needs or None for the test's own rate)
FORMATS = {
    "wav": ("pcm_s16le", None),
    "flac": ("flac", None),
    "mp3": ("libmp3lame", None),
    "ogg": ("libopus", 48_000),
    "opus": ("libopus", 48_000),
    "m4a": ("aac", None),
    "mp4": ("aac", None),
    "webm": ("libopus", 48_000),
    "mkv": ("flac", None),
}


def encode(path: Path, samples: np.ndarray, rate: int, codec: str, *, video: bool = False) -> Path:
    """Write ``samples`` (channels, n) in [-1, 1] to ``path`` with PyAV."""
    samples = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    with av.open(str(path), "w") as container:
        audio = container.add_stream(codec, rate=rate, layout=layout)
        if video:
            picture = container.add_stream("mpeg4", rate=5)
            picture.width = picture.height = 32
            picture.pix_fmt = "yuv420p"
            blank = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for i in range(3):
                blank.pts = i
                container.mux(picture.encode(blank))
            container.mux(picture.encode(None))
        fmt = audio.codec_context.codec.audio_formats[0].name
        step = 960 if codec == "libopus" else 4096
        for offset in range(0, samples.shape[1], step):
            part = samples[:, offset : offset + step]
            if codec == "libopus" and part.shape[1] < step:
                part = np.pad(part, ((0, 0), (0, step - part.shape[1])))
            data = part if fmt.endswith("p") else part.T.reshape(1, -1)
            if fmt.startswith("s16"):
                data = (np.clip(data, -1, 1) * 32767).astype(np.int16)
            elif fmt.startswith("s32"):
                data = (np.clip(data, -1, 1) * (2**31 - 1)).astype(np.int32)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(data), format=fmt, layout=layout
            )
            frame.sample_rate = rate
            frame.pts = offset
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    return path


def bursts(rate: int, seconds: float, onsets: tuple[float, ...]) -> np.ndarray:
    """Silence with 0.3 s tone bursts starting sharply at ``onsets`` (seconds)."""
    t = np.arange(int(rate * seconds)) / rate
    x = np.zeros_like(t)
    for onset in onsets:
        inside = (t >= onset) & (t < onset + 0.3)
        x[inside] = 0.3 + 0.5 * np.sin(2 * np.pi * 500 * (t[inside] - onset))
    return x.astype(np.float32)


def onset_time(blocks: list[tuple[float, np.ndarray]]) -> float:
    """Absolute time of the first sample louder than 0.2."""
    for start, samples in blocks:
        loud = np.flatnonzero(np.abs(samples) > 0.2)
        if len(loud):
            return start + loud[0] / SR
    raise AssertionError("no onset found")


def collect(audio: Audio, block_s: float, **kwargs) -> np.ndarray:
    parts = [samples for _, samples in stream(audio, block_s, **kwargs)]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


@pytest.mark.parametrize("ext", list(FORMATS))
def test_each_format_decodes_to_the_right_duration_rate_and_timing(tmp_path: Path, ext: str):
    codec, needed_rate = FORMATS[ext]
    rate = needed_rate or 44_100
    path = encode(tmp_path / f"a.{ext}", bursts(rate, 4.0, (1.0, 3.0))[None], rate, codec)

    audio = probe(path)
    assert (audio.sample_rate, audio.channels, audio.samples) == (rate, 1, None)
    assert audio.source == str(path)
    assert audio.duration == pytest.approx(4.0, abs=0.03)

    blocks = list(stream(audio, 0.5))
    assert all(b.dtype == np.float32 and b.ndim == 1 for _, b in blocks)
    assert sum(len(b) for _, b in blocks) / SR == pytest.approx(4.0, abs=0.03)
    assert onset_time(blocks) == pytest.approx(1.0, abs=0.002)
    # Seeking to the middle keeps block times absolute and sample-accurate.
    later = list(stream(audio, 0.7, start=2.3, end=3.6))
    assert later[0][0] == pytest.approx(2.3)
    assert onset_time(later) == pytest.approx(3.0, abs=0.002)
    assert later[-1][0] + len(later[-1][1]) / SR == pytest.approx(3.6, abs=1e-6)


def test_video_container_reads_its_audio_stream(tmp_path: Path):
    path = encode(
        tmp_path / "clip.mkv", bursts(44_100, 2.0, (0.5,))[None], 44_100, "flac", video=True
    )
    audio = probe(path)
    assert (audio.sample_rate, audio.channels) == (44_100, 1)
    assert onset_time(list(stream(audio, 1.0))) == pytest.approx(0.5, abs=0.002)


def test_audio_starting_after_the_video_keeps_the_container_clock(tmp_path: Path):
    rate = 44_100
    path = tmp_path / "late.mkv"
    samples = (bursts(rate, 3.0, (1.0,)) * 32767).astype(np.int16)
    with av.open(str(path), "w") as container:
        picture = container.add_stream("mpeg4", rate=5)
        picture.width = picture.height = 32
        picture.pix_fmt = "yuv420p"
        sound = container.add_stream("flac", rate=rate, layout="mono")
        blank = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        for i in range(20):
            blank.pts = i
            container.mux(picture.encode(blank))
        container.mux(picture.encode(None))
        for offset in range(0, len(samples), 4096):
            frame = av.AudioFrame.from_ndarray(
                samples[None, offset : offset + 4096], format="s16", layout="mono"
            )
            frame.sample_rate = rate
            frame.pts = offset + rate // 2  # the sound starts 0.5 s into the video
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    audio = probe(path)
    assert audio.duration == pytest.approx(4.0, abs=0.01)
    blocks = list(stream(audio, 1.0))
    assert blocks[0][0] == 0.0 and not np.any(blocks[0][1][: SR // 2])
    assert onset_time(blocks) == pytest.approx(1.5, abs=0.002)
    assert onset_time(list(stream(audio, 1.0, start=1.2))) == pytest.approx(1.5, abs=0.002)


def test_stereo_44k_downmixes_by_mean_and_reads_each_channel(tmp_path: Path):
    t = np.arange(44_100 * 2) / 44_100
    left = 0.6 * np.sin(2 * np.pi * 300 * t)
    right = 0.2 * np.sin(2 * np.pi * 300 * t)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 44_100, subtype="FLOAT")

    audio = probe(path)
    assert (audio.sample_rate, audio.channels, audio.duration) == (44_100, 2, 2.0)
    mono, first, second = (collect(audio, 0.5, channel=c) for c in (None, 0, 1))
    assert len(mono) == len(first) == len(second) == 2 * SR
    core = slice(1000, -1000)  # away from the resampler's edges

    def peak(x: np.ndarray) -> float:
        return float(np.abs(x[core]).max())

    assert peak(first) == pytest.approx(0.6, abs=0.01)
    assert peak(second) == pytest.approx(0.2, abs=0.01)
    assert peak(mono) == pytest.approx(0.4, abs=0.01)
    np.testing.assert_allclose(mono, (first + second) / 2, atol=1e-5)
    with pytest.raises(AudioError, match="channel 2"):
        collect(audio, 0.5, channel=2)


def test_blocks_have_the_requested_size_and_cover_start_to_end(tmp_path: Path):
    path = tmp_path / "tone.wav"
    sf.write(path, 0.1 * np.ones(SR * 3, np.float32), SR)
    audio = probe(path)
    blocks = list(stream(audio, 0.4, start=0.5, end=2.1))
    assert [round(t, 6) for t, _ in blocks] == [0.5, 0.9, 1.3, 1.7]
    assert [len(b) for _, b in blocks] == [6400, 6400, 6400, 6400]
    assert list(stream(audio, 1.0, start=2.0, end=2.0)) == []
    # Audio.blocks on a file handle goes through the same reader.
    assert sum(len(b) for _, b in audio.blocks(1.0, start=2.5)) == SR // 2


def test_streaming_does_not_hold_the_file_in_memory(tmp_path: Path):
    path = tmp_path / "long.wav"
    seconds = 120
    with sf.SoundFile(path, "w", SR, 1, subtype="PCM_16") as out:
        for _ in range(seconds):
            out.write(0.1 * np.random.default_rng(0).standard_normal(SR).astype(np.float32))
    audio = probe(path)
    whole_file = seconds * SR * 4  # float32 samples of the whole file
    tracemalloc.start()
    try:
        total = sum(len(b) for _, b in stream(audio, 1.0))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == seconds * SR
    assert peak < whole_file / 10


def test_resample_keeps_length_pitch_and_level():
    rate = 44_100
    t = np.arange(rate * 2) / rate
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    out = resample(tone, rate)
    assert out.dtype == np.float32 and out.shape == (2 * SR,)
    spectrum = np.abs(np.fft.rfft(out))
    assert np.argmax(spectrum) * SR / len(out) == pytest.approx(1000, abs=1)
    assert np.abs(out[1000:-1000]).max() == pytest.approx(0.5, abs=0.01)
    assert resample(np.zeros(7, np.float32), 22_050).shape == (round(7 * SR / 22_050),)
    same = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(resample(same, SR), same)


def test_from_array_resamples_through_the_audio_module():
    audio = Audio.from_array(np.zeros(48_000, np.float32), sample_rate=48_000)
    assert (audio.duration, audio.sample_rate, audio.samples.shape) == (1.0, 48_000, (1, SR))


# ---------------------------------------------------------------- bad input


def test_missing_file(tmp_path: Path):
    path = tmp_path / "nowhere.wav"
    with pytest.raises(AudioError, match="not found") as info:
        probe(path)
    assert str(path) in str(info.value)


def test_zero_byte_file(tmp_path: Path):
    path = tmp_path / "empty.mp3"
    path.touch()
    with pytest.raises(AudioError, match=r"empty \(0 bytes\)") as info:
        probe(path)
    assert str(path) in str(info.value)


def test_text_file_is_not_audio(tmp_path: Path):
    path = tmp_path / "notes.wav"
    path.write_text("This is a text file, not audio.\n" * 50)
    with pytest.raises(AudioError) as info:
        probe(path)
    assert str(path) in str(info.value)
    assert "not audio" in str(info.value) or "no audio stream" in str(info.value)


def test_directory_is_not_audio(tmp_path: Path):
    with pytest.raises(AudioError, match="directory"):
        probe(tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "garbage body", "random bytes"])
def test_corrupt_files(tmp_path: Path, damage: str):
    good = encode(tmp_path / "good.flac", bursts(44_100, 2.0, (0.5,))[None], 44_100, "flac")
    data = bytearray(good.read_bytes())
    rng = np.random.default_rng(1)
    if damage == "truncated":
        data = data[:200]
    elif damage == "garbage body":
        data[200:] = rng.integers(0, 256, len(data) - 200, dtype=np.uint8).tobytes()
    else:
        data = bytearray(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    path = tmp_path / "bad.flac"
    path.write_bytes(bytes(data))
    with pytest.raises(AudioError) as info:
        probe(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message


def test_corrupt_data_midway_raises_audio_error_while_streaming(tmp_path: Path):
    good = encode(tmp_path / "good.m4a", bursts(44_100, 4.0, (0.5,))[None], 44_100, "aac")
    data = bytearray(good.read_bytes())
    data[100:2000] = np.random.default_rng(2).integers(0, 256, 1900, dtype=np.uint8).tobytes()
    path = tmp_path / "damaged.m4a"
    path.write_bytes(bytes(data))
    with pytest.raises(AudioError) as info:
        collect(probe(path), 1.0)
    assert str(path) in str(info.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path):
    path = encode(tmp_path / "locked.wav", np.zeros((1, 1000)), SR, "pcm_s16le")
    path.chmod(0)
    try:
        with pytest.raises(AudioError, match="permission denied") as info:
            probe(path)
        assert str(path) in str(info.value)
    finally:
        path.chmod(0o644)


def test_permission_error_is_reported_as_unreadable(tmp_path: Path, monkeypatch):
    path = encode(tmp_path / "locked.wav", np.zeros((1, 1000)), SR, "pcm_s16le")
    real_open = builtins.open

    def deny(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", deny)
    with pytest.raises(AudioError, match="permission denied") as info:
        probe(path)
    assert str(path) in str(info.value)
