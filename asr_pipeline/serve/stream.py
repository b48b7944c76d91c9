"""Streaming recognition: audio arrives in pieces, partial results follow it, finals end each
utterance.

The VAD scores every 32 ms frame as it arrives; an utterance ends after
``endpoint_silence_s`` of non-speech or at ``max_utterance_s``. While it is open, the model
hears a sliding window (left context + new audio + right context): frames of the new audio are
kept for good, frames of the right context only until the next refresh, so the cost per second
of audio stays bounded however long the utterance runs. A final adds the last window's frames,
decodes them with the configured decoder and runs the pipeline's text stages (numbers,
punctuation, casing...), word times kept, in seconds from the stream's start.

A :class:`StreamEngine` holds the models and is shared by every stream; each stream gets its
own :class:`StreamRecognizer`, driven by one thread at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import options_of
from ..ctc.decode import GreedyDecoder
from ..errors import ConfigError
from ..pipeline import Pipeline
from ..types import SAMPLE_RATE, Segment, Transcript, Word
from ..vad import FRAME, FRAME_S, OnnxScorer, ScorerState, SpeechSegmenter, VadStage
from .settings import ServeOptions

if TYPE_CHECKING:
    from ..ctc import CtcStage

__all__ = ["Final", "StreamEngine", "StreamRecognizer"]


@dataclass(frozen=True)
class Final:
    """One finished utterance: its words after the text stages, and their text."""

    words: tuple[Word, ...]
    text: str


class StreamEngine:
    """What every stream shares: the pipeline's ctc backend and decoder, its text stages, a
    Silero VAD scorer, and the settings.

    VAD settings (``threshold``, ``min_speech_s``, ``speech_pad_s``) come from the pipeline's
    ``vad`` stage when it has one; the end of an utterance is ``serve.endpoint_silence_s`` alone.
    """

    def __init__(self, pipeline: Pipeline, options: ServeOptions | None = None) -> None:
        self.options = options or ServeOptions()
        specs = pipeline.config.stages
        names = pipeline.stage_names
        ctc_names = [n for n in names if specs[n].factory == "ctc"]
        if not ctc_names:
            raise ConfigError("streaming needs a ctc stage in the pipeline", "pipeline")
        ctc: CtcStage = pipeline.get_stage(ctc_names[0])  # type: ignore[assignment]
        self.backend = ctc.backend
        self.decoder = ctc.decoder
        self.recognizer = ctc.recognizer
        self.partial_decoder = GreedyDecoder(ctc.decoder.vocabulary)
        self.model = ctc.model
        self.text_stages = Pipeline()
        for name in names[names.index(ctc_names[0]) + 1 :]:
            if specs[name].factory != "vad":
                self.text_stages.add_stage(pipeline.get_stage(name), name)
        vad_names = [n for n in names if specs[n].factory == "vad"]
        vad: dict[str, Any] = {k: o.default for k, o in options_of(VadStage).items()}
        if vad_names:
            vad.update(specs[vad_names[0]].options)
        self.threshold = float(vad["threshold"])
        self.min_speech_s = float(vad["min_speech_s"])
        self.pad = round(float(vad["speech_pad_s"]) * SAMPLE_RATE)
        self.scorer = OnnxScorer()
        self.frame = self.backend.frame_samples
        self.min_samples = self.recognizer.min_samples

    def open(self) -> StreamRecognizer:
        """A recogniser for one new stream."""
        return StreamRecognizer(self)


@dataclass
class _Utterance:
    """The open utterance: where it starts, and the model frames kept so far."""

    vad_start: int
    start: int
    """First sample (from the stream's start)."""
    kept: list[np.ndarray] = field(default_factory=list)
    kept_frames: int = 0
    refreshed: int = 0
    """Samples of the stream heard when the partial was last refreshed."""
    partial: str = ""


class StreamRecognizer:
    """One stream: feed 16 kHz float32 samples, get finals back and read :attr:`partial`."""

    def __init__(self, engine: StreamEngine) -> None:
        self.engine = engine
        options = engine.options
        self._segmenter = SpeechSegmenter(
            threshold=engine.threshold,
            min_speech=round(engine.min_speech_s / FRAME_S),
            min_silence=max(1, round(options.endpoint_silence_s / FRAME_S)),
            max_frames=max(1, math.floor(options.max_utterance_s / FRAME_S)),
        )
        self._vad_state = ScorerState()
        self._vad_rest = np.zeros(0, dtype=np.float32)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0
        self._total = 0
        self._done_until = 0
        """End (sample) of the last final: the next utterance never reaches back before it."""
        self._utterance: _Utterance | None = None
        self._interval = max(1, round(options.partial_interval_s * SAMPLE_RATE))
        frame = engine.frame
        self._left = math.ceil(options.left_context_s * SAMPLE_RATE / frame)
        self._right = round(options.right_context_s * SAMPLE_RATE)

    @property
    def partial(self) -> str:
        """The raw recognition of the open utterance ("" between utterances)."""
        return self._utterance.partial if self._utterance else ""

    @property
    def seconds(self) -> float:
        """Audio received so far."""
        return self._total / SAMPLE_RATE

    def feed(self, samples: np.ndarray) -> list[Final]:
        """Take the next samples; return the utterances they finish (usually none).

        Every utterance the VAD ends gets a final, with no words when none were recognised.
        """
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._buffer = np.concatenate((self._buffer, samples))
        self._total += len(samples)
        data = np.concatenate((self._vad_rest, samples))
        whole = len(data) // FRAME * FRAME
        self._vad_rest = data[whole:]
        finals: list[Final] = []
        if whole:
            frames = data[:whole].reshape(-1, FRAME)
            probs = self.engine.scorer.score_block(frames, self._vad_state)
            for span in self._segmenter.feed(probs):
                finals.extend(self._final(span, self._total))
        self._follow_vad()
        utterance = self._utterance
        if utterance is not None and self._total - utterance.refreshed >= self._interval:
            self._refresh(utterance)
        self._trim()
        return finals

    def finish(self) -> list[Final]:
        """The end of the stream: finish the utterance still open."""
        finals: list[Final] = []
        if len(self._vad_rest):
            frame = np.pad(self._vad_rest, (0, FRAME - len(self._vad_rest)))[None]
            self._vad_rest = np.zeros(0, dtype=np.float32)
            for span in self._segmenter.feed(
                self.engine.scorer.score_block(frame, self._vad_state)
            ):
                finals.extend(self._final(span, self._total))
        for span in self._segmenter.finish():
            finals.extend(self._final(span, self._total))
        self._utterance = None
        return finals

    # ---------------------------------------------------------------- utterances

    def _follow_vad(self) -> None:
        """Open, keep or drop the utterance to match the VAD's open span."""
        open_start = self._segmenter.open_start
        utterance = self._utterance
        if open_start is None:
            self._utterance = None  # a span too short to count, or one just finished
        elif utterance is None or utterance.vad_start != open_start:
            start = max(open_start * FRAME - self.engine.pad, self._done_until, 0)
            self._utterance = _Utterance(open_start, start, refreshed=start)

    def _final(self, span: tuple[int, int], available: int) -> list[Final]:
        first, last = span
        pad = self.engine.pad
        start = max(first * FRAME - pad, self._done_until, 0)
        still_open = self._segmenter.open_start == last  # a split: the next span touches
        end = min(last * FRAME + (0 if still_open else pad), available)
        self._done_until = end
        utterance = self._utterance
        if utterance is None or utterance.vad_start != first or utterance.start != start:
            utterance = _Utterance(first, start)
        self._utterance = None
        if end - start < self.engine.min_samples:
            return [Final((), "")]
        log_probs = self._log_probs(utterance, end, final=True)
        words = self.engine.recognizer.decode([(log_probs, start / SAMPLE_RATE)])[0]
        if not words:
            return [Final((), "")]
        segment = Segment(start / SAMPLE_RATE, end / SAMPLE_RATE, tuple(words))
        transcript = Transcript(segments=(segment,), duration=end / SAMPLE_RATE)
        if self.engine.text_stages.stage_names:
            transcript = self.engine.text_stages(transcript)
        return [Final(transcript.words, transcript.text)]

    def _refresh(self, utterance: _Utterance) -> None:
        log_probs = self._log_probs(utterance, self._total, final=False)
        utterance.refreshed = self._total
        words = self.engine.partial_decoder.decode(log_probs, 0.0, self.engine.recognizer.frame_s)
        utterance.partial = " ".join(w.text for w in words)

    def _log_probs(self, utterance: _Utterance, end: int, *, final: bool) -> np.ndarray:
        """Frames of the utterance up to sample ``end``: those kept, then a window's worth.

        The window starts ``left_context_s`` before the first frame not kept yet; of its frames,
        those before that first frame are dropped, and (unless ``final``) those within
        ``right_context_s`` of its end are returned but not kept.
        """
        engine = self.engine
        frame = engine.frame
        kept = utterance.kept_frames
        window_start = max(0, kept - self._left) * frame
        a = utterance.start + window_start - self._buffer_start
        b = end - self._buffer_start
        samples = self._buffer[max(a, 0) : b]
        vocabulary = engine.backend.vocabulary_size
        new = np.zeros((0, vocabulary), dtype=np.float32)
        if len(samples) >= engine.min_samples:
            new = engine.backend.log_probs([samples])[0][kept - window_start // frame :]
        if not final:
            stable = engine.backend.output_frames(max(0, end - utterance.start - self._right))
            keep = max(0, min(len(new), stable - kept))
            if keep:
                utterance.kept.append(new[:keep])
                utterance.kept_frames += keep
            tentative = new[keep:]
            return np.concatenate([*utterance.kept, tentative]) if utterance.kept else tentative
        frames = engine.backend.output_frames(end - utterance.start)  # a split may cut kept ones
        return (np.concatenate([*utterance.kept, new]) if utterance.kept else new)[:frames]

    def _trim(self) -> None:
        """Keep only the audio the open utterance (or the next one's padding) may need."""
        if self._utterance is not None:
            keep = self._utterance.start
        else:
            keep = self._total - self.engine.pad - 2 * FRAME
        drop = max(0, keep - self._buffer_start)
        if drop:
            self._buffer = self._buffer[drop:]
            self._buffer_start += drop
