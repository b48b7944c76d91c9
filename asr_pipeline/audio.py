"""Audio input: probe any file PyAV reads and stream it as 16 kHz float32 blocks.

PyAV ships FFmpeg, so wav, flac, mp3, ogg/opus, m4a/aac and the audio of mp4, webm and mkv all
decode without a system ffmpeg. Nothing here holds a whole file: :func:`stream` decodes,
resamples and cuts blocks as it goes, so memory stays flat however long the file is.

>>> import numpy as np
>>> resample(np.zeros(44_100, dtype="float32"), 44_100).shape
(16000,)
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import warnings
from collections.abc import Iterator
from typing import Any

import av
import numpy as np

from .errors import AudioError, TruncatedAudioWarning
from .types import SAMPLE_RATE, Audio

__all__ = ["decode_bytes", "probe", "resample", "stream"]

SEEK_MARGIN_S = 1.0
"""Seek this far before the requested start: decoders and the resampler warm up on it."""
SEEK_TOLERANCE_S = 0.05
"""A seek that lands later than the start by more than this falls back to decoding from 0."""
_RESAMPLE_CHUNK = 1 << 16
SAMPLE_RATES = (1_000, 768_000)
"""Native sample rates accepted (Hz): a header outside them is corrupt, and a 1 Hz header
would make every second of data last hours."""
MAX_CHANNELS = 64
MAX_DURATION_S = 100 * 3600.0
"""The longest audio accepted: a header declaring more is corrupt."""
TRUNCATION_TOLERANCE_S = 0.25
"""Audio ending this much earlier than its header says counts as truncated (encoders pad)."""


def probe(path: str | os.PathLike[str]) -> Audio:
    """Open a file and read its metadata: duration, native sample rate, channels.

    Raises :class:`AudioError` naming the file when it is missing, unreadable, empty, not
    audio or corrupt. The first audio frame is decoded to catch corrupt data early.
    """
    source = os.fspath(path)
    _check_file(source)
    try:
        with av.open(source) as container:
            stream = _audio_stream(container, source)
            if stream.codec_context is None:
                raise AudioError(
                    f"{source}: the audio stream cannot be decoded (an unknown codec or a "
                    "corrupt header, e.g. 0 bits per sample)"
                )
            rate = stream.codec_context.sample_rate or stream.rate
            channels = stream.codec_context.channels
            duration = _declared_duration(container, stream)
            # Only the audio's own length can be checked against the data: a container's may
            # be a longer video's.
            checkable = bool(stream.duration) or container.format.name == "wav"
            first = next(_decode(container, stream, source), None)
            if first is None:
                raise AudioError(f"{source}: no audio could be decoded (corrupt file?)")
            rate = rate or first.sample_rate
            channels = channels or len(first.layout.channels)
    except av.FFmpegError as e:
        raise AudioError(
            f"{source}: cannot open as audio; the file is corrupt or not audio/video ({_reason(e)})"
        ) from e
    if not rate or not channels:
        raise AudioError(f"{source}: the audio stream has no sample rate or channels (corrupt?)")
    _check_header(source, int(rate), int(channels), duration)
    duration = _wav_declared_duration(source) or duration
    if duration is None:
        duration = _decoded_duration(source)
    elif checkable and _ends_before(source, duration - TRUNCATION_TOLERANCE_S):
        decoded = _decoded_duration(source)  # the whole file: a seek may have missed the end
        if decoded < duration - TRUNCATION_TOLERANCE_S:
            warnings.warn(
                f"{source}: the file is truncated: its header declares {duration:.2f} s of "
                f"audio, {decoded:.2f} s could be decoded; using those",
                TruncatedAudioWarning,
                stacklevel=2,
            )
            duration = decoded
    return Audio(source=source, duration=duration, sample_rate=int(rate), channels=int(channels))


def stream(
    audio: Audio,
    block_s: float,
    *,
    start: float = 0.0,
    end: float | None = None,
    channel: int | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(start_time, samples)`` blocks of 16 kHz float32 audio read from ``audio.source``.

    ``channel=None`` averages the channels (mono downmix); an int reads that channel alone.
    Blocks hold ``block_s`` seconds (the last may be shorter); times are absolute seconds. The
    reader seeks near ``start`` and never holds more than about one block in memory.
    """
    if block_s <= 0:
        raise ValueError(f"block_s must be positive, got {block_s}")
    if channel is not None and not 0 <= channel < audio.channels:
        raise AudioError(
            f"{audio.source}: channel {channel} does not exist (the file has {audio.channels})"
        )
    first = max(0, round(start * SAMPLE_RATE))
    last = round((audio.duration if end is None else min(end, audio.duration)) * SAMPLE_RATE)
    if last <= first:
        return
    step = max(1, round(block_s * SAMPLE_RATE))
    pending: list[np.ndarray] = []
    pending_n = 0
    block_start = first
    for offset, chunk in _resampled(audio.source, first / SAMPLE_RATE):
        samples = chunk.mean(axis=0) if channel is None else chunk[channel]
        expected = block_start + pending_n
        if offset > expected:  # the audio starts after the container's clock: silence before
            samples = np.concatenate((np.zeros(offset - expected, np.float32), samples))
            offset = expected
        lo = max(first - offset, 0)
        hi = min(len(samples), last - offset)
        if hi > lo:
            pending.append(samples[lo:hi])
            pending_n += hi - lo
        while pending_n >= step:
            data = np.concatenate(pending) if len(pending) > 1 else pending[0]
            yield block_start / SAMPLE_RATE, np.ascontiguousarray(data[:step], dtype=np.float32)
            block_start += step
            pending, pending_n = ([data[step:]], len(data) - step) if len(data) > step else ([], 0)
        if offset + len(samples) >= last:
            break
    if pending_n:
        data = np.concatenate(pending)
        yield block_start / SAMPLE_RATE, np.ascontiguousarray(data, dtype=np.float32)


def decode_bytes(data: bytes, name: str = "<bytes>", max_seconds: float | None = None) -> Audio:
    """Decode a whole file held in memory (an upload) into 16 kHz float32 samples.

    Nothing touches the disk. ``name`` stands for the file in error messages; empty data, data
    that is not audio, corrupt audio and audio longer than ``max_seconds`` (checked as it is
    decoded) raise :class:`AudioError`.
    """
    limit = None if max_seconds is None else round(max_seconds * SAMPLE_RATE)
    decoded = 0
    if not data:
        raise AudioError(f"{name}: the file is empty (0 bytes)")
    parts: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(data)) as container:
            stream = _audio_stream(container, name)
            origin = _origin(container, stream)
            for position, chunk in _resample_frames(_decode(container, stream, name), origin, 0):
                if not parts and position:  # audio starting after the container's clock
                    parts.append(np.zeros((chunk.shape[0], max(position, 0)), np.float32))
                parts.append(chunk)
                decoded += chunk.shape[1]
                if limit is not None and decoded > limit:
                    raise AudioError(
                        f"{name}: more than {max_seconds:g} s of audio; send a shorter file"
                    )
    except av.FFmpegError as e:
        raise AudioError(
            f"{name}: cannot open as audio; the file is corrupt or not audio/video ({_reason(e)})"
        ) from e
    if not parts or not sum(part.shape[1] for part in parts):
        raise AudioError(f"{name}: no audio could be decoded (corrupt file?)")
    return Audio.from_array(np.concatenate(parts, axis=1), source=name)


def resample(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Resample 1-D audio to 16 kHz float32 with FFmpeg's resampler (through PyAV).

    The result has exactly ``round(len(samples) * 16000 / sample_rate)`` samples.
    """
    data = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
    if sample_rate == SAMPLE_RATE:
        return data.copy()
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    parts: list[np.ndarray] = []
    for offset in range(0, len(data), _RESAMPLE_CHUNK):
        frame = av.AudioFrame.from_ndarray(
            data[None, offset : offset + _RESAMPLE_CHUNK], format="flt", layout="mono"
        )
        frame.sample_rate = sample_rate
        frame.pts = offset
        parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    out = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    wanted = round(len(data) * SAMPLE_RATE / sample_rate)
    if len(out) < wanted:
        out = np.pad(out, (0, wanted - len(out)))
    return np.ascontiguousarray(out[:wanted], dtype=np.float32)


# ---------------------------------------------------------------- helpers


def _check_file(source: str) -> None:
    if not os.path.exists(source):
        raise AudioError(f"{source}: file not found")
    if os.path.isdir(source):
        raise AudioError(f"{source}: is a directory, not an audio file")
    try:
        with open(source, "rb") as fh:
            empty = not fh.read(1)
    except PermissionError as e:
        raise AudioError(f"{source}: cannot read the file (permission denied)") from e
    except OSError as e:
        raise AudioError(f"{source}: cannot read the file ({e.strerror or e})") from e
    if empty:
        raise AudioError(f"{source}: the file is empty (0 bytes)")


def _audio_stream(container: Any, source: str) -> Any:
    if not container.streams.audio:
        raise AudioError(f"{source}: no audio stream found (not an audio or video file?)")
    return container.streams.audio[0]


def _origin(container: Any, stream: Any) -> float:
    """The time that counts as 0: the container's start (so times match a video's clock),
    else the audio stream's."""
    if container.start_time is not None:
        return container.start_time / av.time_base
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _declared_duration(container: Any, stream: Any) -> float | None:
    """The duration the container declares, counted from :func:`_origin` to the audio's end."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        late = 0.0
        if stream.start_time is not None:
            late = max(
                0.0, float(stream.start_time * stream.time_base) - _origin(container, stream)
            )
        return late + float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def _decoded_duration(source: str) -> float:
    """Duration by decoding the whole file (for containers that do not declare one, and for
    truncated files, whose decoding stops at the first error)."""
    samples = 0
    rate = 0
    late = 0.0
    try:
        with av.open(source) as container:
            stream = _audio_stream(container, source)
            for frame in _decode(container, stream, source):
                if not rate and frame.time is not None:
                    late = max(0.0, frame.time - _origin(container, stream))
                samples += frame.samples
                rate = frame.sample_rate
    except (av.FFmpegError, AudioError) as e:
        if not samples:
            raise AudioError(f"{source}: cannot decode the audio ({_reason(e)})") from e
    return late + samples / rate if rate else 0.0


def _ends_before(source: str, seconds: float) -> bool:
    """Whether the decodable audio ends before ``seconds`` (a truncated file), judged by
    decoding from shortly before that time."""
    try:
        with av.open(source) as container:
            stream = _audio_stream(container, source)
            origin = _origin(container, stream)
            if seconds > SEEK_MARGIN_S and stream.time_base is not None:
                target = seconds - SEEK_MARGIN_S + origin
                container.seek(int(target / stream.time_base), stream=stream, backward=True)
            end = None
            with contextlib.suppress(AudioError):  # the error that ends a damaged file
                for frame in _decode(container, stream, source):
                    if frame.time is not None:
                        end = frame.time - origin + frame.samples / frame.sample_rate
                    if end is not None and end >= seconds:
                        return False
    except av.FFmpegError:
        pass
    return True


def _check_header(source: str, rate: int, channels: int, duration: float | None) -> None:
    """Refuse headers no real recording has (a 1 Hz rate, hundreds of channels)."""
    low, high = SAMPLE_RATES
    if not low <= rate <= high:
        raise AudioError(
            f"{source}: the header declares a sample rate of {rate} Hz, outside {low}-{high} Hz "
            "(corrupt header?)"
        )
    if channels > MAX_CHANNELS:
        raise AudioError(
            f"{source}: the header declares {channels} channels, more than {MAX_CHANNELS} "
            "(corrupt header?)"
        )
    if duration is not None and duration > MAX_DURATION_S:
        raise AudioError(
            f"{source}: the header declares {duration / 3600:.0f} hours of audio, more than "
            f"{MAX_DURATION_S / 3600:.0f} (corrupt header?); cut the recording into parts"
        )


def _wav_declared_duration(source: str) -> float | None:
    """The duration a WAV file's header declares (its data chunk's size), which FFmpeg cuts
    to the file's size; None for other files."""
    try:
        with open(source, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    position, byte_rate = 12, 0
    while position + 8 <= len(head):
        chunk, size = head[position : position + 4], struct.unpack_from("<I", head, position + 4)[0]
        if chunk == b"fmt " and position + 16 <= len(head):
            byte_rate = struct.unpack_from("<I", head, position + 16)[0]
        elif chunk == b"data":
            return size / byte_rate if byte_rate and size < 0xFFFFFFFF else None
        position += 8 + size + size % 2
    return None


def _decode(container: Any, stream: Any, source: str) -> Iterator[Any]:
    """Decoded audio frames of one stream, with FFmpeg errors turned into AudioError."""
    try:
        for packet in container.demux(stream):
            yield from packet.decode()
    except av.FFmpegError as e:
        raise AudioError(f"{source}: corrupt audio data ({_reason(e)})") from e


def _resampled(source: str, start: float) -> Iterator[tuple[int, np.ndarray]]:
    """``(first_sample_index, samples (channels, n))`` chunks at 16 kHz from about ``start``.

    Sample indices count at 16 kHz from the stream's first sample. Seeks ``SEEK_MARGIN_S``
    before ``start`` when the container allows; decodes from the beginning otherwise (and when
    a seek overshoots or loses the timestamps).
    """
    seek_to = start - SEEK_MARGIN_S
    try:
        with av.open(source) as container:
            stream = _audio_stream(container, source)
            origin = _origin(container, stream)
            if seek_to > 0 and stream.time_base is not None:
                container.seek(
                    int((seek_to + origin) / stream.time_base), stream=stream, backward=True
                )
                chunks = _resample_frames(_decode(container, stream, source), origin, None)
                first = next(chunks, None)
                if first is None or first[0] is None or first[0] > start * SAMPLE_RATE + 1:
                    chunks = None
                else:
                    yield first
            else:
                chunks = _resample_frames(_decode(container, stream, source), origin, 0)
            if chunks is not None:
                yield from chunks
                return
    except av.FFmpegError as e:
        raise AudioError(f"{source}: cannot decode the audio ({_reason(e)})") from e
    yield from _resampled(source, 0.0)


def _resample_frames(
    frames: Iterator[Any], origin: float, untimed: int | None
) -> Iterator[tuple[Any, np.ndarray]]:
    """Resample decoded frames to 16 kHz planar float, keeping the channels apart.

    The first frame's timestamp fixes the position (``untimed`` if it has none); later samples
    are counted from it, which keeps positions exact where timestamps are coarse.
    """
    resampler: Any = None
    position: int | None = None
    for frame in frames:
        if resampler is None:
            resampler = av.AudioResampler(format="fltp", layout=frame.layout, rate=SAMPLE_RATE)
            timed = frame.pts is not None and frame.time is not None
            position = round((frame.time - origin) * SAMPLE_RATE) if timed else untimed
            if position is None:
                yield None, np.zeros((len(frame.layout.channels), 0), dtype=np.float32)
                return
        frame.pts = None
        for out in resampler.resample(frame):
            data = out.to_ndarray()
            yield position, data
            position += data.shape[1]
    if resampler is not None:
        for out in resampler.resample(None):
            data = out.to_ndarray()
            yield position, data
            position += data.shape[1]


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return str(text).strip().rstrip(".") or type(error).__name__
