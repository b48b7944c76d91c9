"""The ``vad`` stage: find speech, so later stages never see the silence between segments.

Silero VAD scores every 32 ms frame of 16 kHz audio with a speech probability; a small state
machine turns those scores into segments, pads them, and splits speech longer than
``max_segment_s`` at its quietest frame. The audio streams through in blocks, so memory does
not grow with the file. A ``fixed`` mode cuts plain windows instead, without a model.

The model files come from the ``silero-vad`` package, loaded directly: importing
``silero_vad`` itself calls ``torch.set_num_threads(1)``, which would make the whole process
single-threaded for torch.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import numpy as np

from .config import Range
from .errors import ConfigError, MissingDependencyError, ModelError
from .types import SAMPLE_RATE, Audio, Segment, Transcript

__all__ = ["FRAME_S", "SpeechSegmenter", "VadStage", "pad_spans"]

FRAME = 512
"""Samples per Silero frame at 16 kHz."""
FRAME_S = FRAME / SAMPLE_RATE
CONTEXT = 64
"""Samples of the previous frame the model sees in front of each frame."""
BLOCK_FRAMES = 960
BLOCK_S = BLOCK_FRAMES * FRAME / SAMPLE_RATE
"""Seconds of audio read and scored at a time (30.72 s): whole frames, so every model call but
the last has the same shape."""
ONNX_MODEL = "silero_vad_16k_sequence.onnx"
TORCH_MODEL = "silero_vad.jit"
ONNX_THREADS = 1
"""onnxruntime intra-op threads: the model steps through frames one after another, and more
threads only added overhead when measured (10 min of audio: 2.5-2.8 s with 1, 3.2-3.7 s with 2
or 4)."""


class VadStage:
    """Split audio into speech segments (Silero VAD, or fixed windows).

    Options:
        mode: "silero" finds speech with the Silero model; "fixed" cuts plain windows of
            fixed_s seconds, with no model (for audio where the VAD misbehaves).
        backend: how Silero runs: "onnx" (onnxruntime, faster on CPU) or "torch" (TorchScript).
        threshold: speech probability (0..1) at which speech starts; it ends below
            threshold - 0.15.
        min_speech_s: speech shorter than this is dropped.
        min_silence_s: a pause must last this long to end a segment.
        speech_pad_s: seconds added on both sides of each segment (never overlapping another).
        max_segment_s: longer speech is split at its quietest point (lowest speech probability)
            in the second half of the allowed length; null for no limit.
        fixed_s: window length for mode "fixed".
    """

    def __init__(
        self,
        *,
        mode: Literal["silero", "fixed"] = "silero",
        backend: Literal["onnx", "torch"] = "onnx",
        threshold: Annotated[float, Range(gt=0, lt=1)] = 0.5,
        min_speech_s: Annotated[float, Range(ge=0)] = 0.25,
        min_silence_s: Annotated[float, Range(ge=0)] = 0.5,
        speech_pad_s: Annotated[float, Range(ge=0)] = 0.2,
        max_segment_s: Annotated[float | None, Range(gt=0)] = 30.0,
        fixed_s: Annotated[float, Range(gt=0)] = 30.0,
    ) -> None:
        if mode not in ("silero", "fixed"):
            raise ConfigError(f"expected 'silero' or 'fixed', got {mode!r}", "mode")
        if backend not in ("onnx", "torch"):
            raise ConfigError(f"expected 'onnx' or 'torch', got {backend!r}", "backend")
        if not 0.0 < threshold < 1.0:
            raise ConfigError(
                f"expected a probability between 0 and 1, got {threshold}", "threshold"
            )
        for name, value in (
            ("min_speech_s", min_speech_s),
            ("min_silence_s", min_silence_s),
            ("speech_pad_s", speech_pad_s),
        ):
            if value < 0:
                raise ConfigError(f"expected seconds >= 0, got {value}", name)
        if fixed_s <= 0:
            raise ConfigError(f"expected seconds > 0, got {fixed_s}", "fixed_s")
        self.mode = mode
        self.backend = backend
        self.threshold = threshold
        self.min_speech_s = min_speech_s
        self.min_silence_s = min_silence_s
        self.speech_pad_s = speech_pad_s
        self.max_segment_s = max_segment_s
        self.fixed_s = fixed_s
        self._max_frames: int | None = None
        if max_segment_s is not None:
            if max_segment_s - 2 * speech_pad_s < 0.1:
                raise ConfigError(
                    f"must exceed twice speech_pad_s by at least 0.1 s, got {max_segment_s}",
                    "max_segment_s",
                )
            # Room for the padding on both sides, and for rounding times to milliseconds.
            self._max_frames = math.floor((max_segment_s - 2 * speech_pad_s - 0.002) / FRAME_S)
        self._model: FrameScorer | None = None
        if mode == "silero":
            self._model = OnnxScorer() if backend == "onnx" else TorchScorer()

    def __call__(self, transcript: Transcript) -> Transcript:
        audio = transcript.audio
        if audio is None:
            return transcript
        segments: list[Segment] = []
        for segment in transcript.segments:
            spans = self._windows(segment) if self._model is None else self._speech(audio, segment)
            segments.extend(
                Segment(start, end, speaker=segment.speaker, channel=segment.channel)
                for start, end in spans
            )
        segments.sort(key=lambda s: (s.start, s.end, -1 if s.channel is None else s.channel))
        return replace(transcript, segments=tuple(segments))

    def speech_probabilities(
        self,
        audio: Audio,
        *,
        start: float = 0.0,
        end: float | None = None,
        channel: int | None = None,
    ) -> Iterator[np.ndarray]:
        """Speech probabilities of consecutive 32 ms frames from ``start``, block by block."""
        if self._model is None:
            raise ConfigError("mode 'fixed' has no model to score frames", "mode")
        blocks = audio.blocks(BLOCK_S, start=start, end=end, channel=channel)
        return self._model.score(_frames(blocks))

    def _speech(self, audio: Audio, segment: Segment) -> list[tuple[float, float]]:
        end = min(segment.end, audio.duration)
        if end <= segment.start:
            return []
        segmenter = SpeechSegmenter(
            threshold=self.threshold,
            min_speech=round(self.min_speech_s / FRAME_S),
            min_silence=max(1, round(self.min_silence_s / FRAME_S)),
            max_frames=self._max_frames,
        )
        spans: list[tuple[int, int]] = []
        for probs in self.speech_probabilities(
            audio, start=segment.start, end=end, channel=segment.channel
        ):
            spans.extend(segmenter.feed(probs))
        spans.extend(segmenter.finish())
        times = [(segment.start + a * FRAME_S, segment.start + b * FRAME_S) for a, b in spans]
        return [
            (round(a, 3), round(b, 3))
            for a, b in pad_spans(times, self.speech_pad_s, segment.start, end)
            if b > a
        ]

    def _windows(self, segment: Segment) -> list[tuple[float, float]]:
        count = max(0, math.ceil((segment.end - segment.start) / self.fixed_s - 1e-9))
        return [
            (
                round(segment.start + i * self.fixed_s, 3),
                round(min(segment.end, segment.start + (i + 1) * self.fixed_s), 3),
            )
            for i in range(count)
        ]


class SpeechSegmenter:
    """Turns a stream of frame probabilities into speech spans, in frame indices.

    Speech starts at a frame scoring ``threshold`` or more and ends after ``min_silence``
    frames below ``threshold - 0.15``; spans shorter than ``min_speech`` frames are dropped.
    Speech running past ``max_frames`` is cut at the lowest-scoring frame between half and all
    of ``max_frames`` from its start. Only the current span's scores are kept.

    >>> seg = SpeechSegmenter(threshold=0.5, min_speech=1, min_silence=2)
    >>> seg.feed(np.array([0, 0.9, 0.9, 0, 0, 0, 0.8, 0.1]))
    [(1, 3)]
    >>> seg.finish()
    [(6, 7)]
    """

    def __init__(
        self,
        *,
        threshold: float,
        min_speech: int,
        min_silence: int,
        max_frames: int | None = None,
    ) -> None:
        self.threshold = threshold
        self.negative = max(threshold - 0.15, 0.01)
        self.min_speech = min_speech
        self.min_silence = min_silence
        self.max_frames = max_frames
        self._index = 0
        self._start: int | None = None
        self._silence: int | None = None
        self._scores: list[float] = []

    def feed(self, probabilities: Iterable[float]) -> list[tuple[int, int]]:
        """Consume the next frames' probabilities; return the spans they complete."""
        spans: list[tuple[int, int]] = []
        for p in np.asarray(probabilities, dtype=np.float64).tolist():
            i = self._index
            self._index += 1
            if self._start is None:
                if p >= self.threshold:
                    self._start, self._silence = i, None
                    self._scores = [p]
                continue
            if self.max_frames is not None:
                self._scores.append(p)
            if p >= self.threshold:
                self._silence = None
            elif p < self.negative:
                if self._silence is None:
                    self._silence = i
                if i + 1 - self._silence >= self.min_silence:
                    self._emit(spans, self._start, self._silence)
                    self._start = None
                    continue
            if self.max_frames is not None and i + 1 - self._start > self.max_frames:
                self._split(spans)
        return spans

    def finish(self) -> list[tuple[int, int]]:
        """Close the span still open at the end of the audio."""
        spans: list[tuple[int, int]] = []
        if self._start is not None:
            end = self._silence if self._silence is not None else self._index
            self._emit(spans, self._start, end)
            self._start = None
        return spans

    def _split(self, spans: list[tuple[int, int]]) -> None:
        assert self._start is not None and self.max_frames is not None
        low = self.max_frames // 2
        window = self._scores[low : self.max_frames + 1]
        cut = self._start + low + int(np.argmin(window))
        end = cut if self._silence is None else min(cut, max(self._silence, self._start + 1))
        self._emit(spans, self._start, end)
        self._scores = self._scores[cut - self._start :]
        self._start = cut
        if self._silence is not None:
            self._silence = max(self._silence, cut)

    def _emit(self, spans: list[tuple[int, int]], start: int, end: int) -> None:
        if end - start >= max(self.min_speech, 1):
            spans.append((start, end))


def pad_spans(
    spans: list[tuple[float, float]], pad: float, lower: float, upper: float
) -> list[tuple[float, float]]:
    """Widen sorted spans by ``pad`` on each side within ``[lower, upper]``; spans closer than
    ``2 * pad`` meet halfway, and spans that touch (a split) stay as they are."""
    padded = [list(span) for span in spans]
    for i, span in enumerate(padded):
        if i == 0:
            span[0] = max(lower, span[0] - pad)
        if i + 1 < len(padded):
            following = padded[i + 1]
            gap = following[0] - span[1]
            share = min(pad, max(gap, 0.0) / 2)
            span[1] += share
            following[0] -= share
        else:
            span[1] = min(upper, span[1] + pad)
    return [(max(lower, a), min(upper, b)) for a, b in padded]


# ---------------------------------------------------------------- models


class FrameScorer(Protocol):
    """Scores 32 ms frames with a speech probability. Each ``score`` call starts from a fresh
    state and keeps it to itself, so one scorer serves several threads at once."""

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]: ...


def _frames(blocks: Iterable[tuple[float, np.ndarray]]) -> Iterator[np.ndarray]:
    """Regroup audio blocks into arrays of whole frames, shape (n, 512); the last is
    zero-padded."""
    rest = np.zeros(0, dtype=np.float32)
    for _, samples in blocks:
        data = np.concatenate((rest, samples)) if len(rest) else samples
        whole = len(data) // FRAME * FRAME
        if whole:
            yield np.asarray(data[:whole], dtype=np.float32).reshape(-1, FRAME)
        rest = data[whole:]
    if len(rest):
        yield np.pad(rest, (0, FRAME - len(rest))).astype(np.float32).reshape(1, FRAME)


def _model_path(name: str) -> Path:
    """A model file shipped in the silero-vad package, found without importing it."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the vad stage (mode 'silero')", "vad", "silero-vad")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    if not path.is_file():
        raise ModelError(f"{path}: the Silero VAD model file is missing; reinstall silero-vad")
    return path


class OnnxScorer:
    """Silero VAD's sequence ONNX model: one onnxruntime call scores a whole block of frames."""

    def __init__(self) -> None:
        try:
            import onnxruntime as ort
        except ImportError as e:
            feature = "the vad stage (backend 'onnx')"
            raise MissingDependencyError(feature, "vad", "onnxruntime") from e
        path = _model_path(ONNX_MODEL)
        options = ort.SessionOptions()
        options.intra_op_num_threads = ONNX_THREADS
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:
            raise ModelError(f"{path}: cannot load the Silero VAD ONNX model: {e}") from e

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        # The recurrent state lives here, one per call: the session itself is stateless and
        # onnxruntime runs it from several threads at once.
        h = np.zeros((1, 1, 128), dtype=np.float32)
        c = np.zeros((1, 1, 128), dtype=np.float32)
        context = np.zeros(CONTEXT, dtype=np.float32)
        for block in frames:
            inputs = np.empty((len(block), CONTEXT + FRAME), dtype=np.float32)
            inputs[:, CONTEXT:] = block
            inputs[0, :CONTEXT] = context
            inputs[1:, :CONTEXT] = block[:-1, -CONTEXT:]
            context = block[-1, -CONTEXT:].copy()
            probs, h, c = self._session.run(
                ["speech_probs", "hn", "cn"], {"input": inputs, "h": h, "c": c}
            )
            yield np.asarray(probs, dtype=np.float32).reshape(-1)


class TorchScorer:
    """Silero VAD's TorchScript model, one frame per call.

    The packaged module keeps its recurrent state and context on itself, so sharing it between
    threads mixes their audio (and crashed the process). Its inner 16 kHz network takes the
    state as an argument and returns the next one: that network is called directly, with the
    state and context kept per call.

    A 32 ms frame is far too small to share between threads, so each block is scored with one
    torch thread (:func:`~asr_pipeline.ctc.backend.torch_threads`).
    """

    def __init__(self) -> None:
        try:
            import torch
        except ImportError as e:
            raise MissingDependencyError("the vad stage (backend 'torch')", "vad", "torch") from e
        path = _model_path(TORCH_MODEL)
        try:
            with warnings.catch_warnings():  # TorchScript loading is deprecated, still works
                warnings.simplefilter("ignore", DeprecationWarning)
                packaged: Any = torch.jit.load(str(path), map_location="cpu").eval()
            self._network: Any = packaged._model
        except Exception as e:
            raise ModelError(f"{path}: cannot load the Silero VAD TorchScript model: {e}") from e
        from .ctc.backend import torch_threads

        self._torch = torch
        self._threads = torch_threads

    def score(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        torch = self._torch
        state = torch.zeros((2, 1, 128))
        context = torch.zeros((1, CONTEXT))
        for block in frames:
            probs = np.empty(len(block), dtype=np.float32)
            with self._threads(1), torch.inference_mode():
                for i, row in enumerate(torch.from_numpy(np.ascontiguousarray(block))):
                    inputs = torch.cat((context, row[None]), dim=1)
                    out, state = self._network(inputs, state)
                    context = inputs[:, -CONTEXT:]
                    probs[i] = float(out)
            yield probs
