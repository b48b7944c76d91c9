"""The data model: an audio handle, timed words, segments and transcripts.

Every type is a frozen dataclass; stages return new objects (``dataclasses.replace``) instead of
editing in place. Times are seconds, absolute to the source file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TextIO, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from .reading import Paragraph, Sentence, Turn

__all__ = [
    "SAMPLE_RATE",
    "SCHEMA_VERSION",
    "Audio",
    "Metadata",
    "Segment",
    "Stage",
    "Transcript",
    "Word",
    "Writer",
    "confidence",
]

SAMPLE_RATE = 16_000
SCHEMA_VERSION = 1


@dataclass(frozen=True, eq=False)
class Audio:
    """A handle on audio: metadata plus block-wise reading of 16 kHz float32 samples.

    A file is never held in memory whole: :meth:`blocks` decodes and resamples as it goes.
    ``Audio.from_array`` wraps samples already in memory (tests, library use).

    >>> import numpy as np
    >>> audio = Audio.from_array(np.zeros(16_000, dtype="float32"))
    >>> audio.duration, audio.channels
    (1.0, 1)
    """

    source: str
    duration: float
    sample_rate: int
    channels: int
    samples: np.ndarray | None = field(default=None, repr=False)
    """In-memory samples, shape (channels, n), 16 kHz float32; None for a file."""

    SAMPLE_RATE: ClassVar[int] = SAMPLE_RATE

    @classmethod
    def open(cls, path: str | Any) -> Audio:
        """Probe a file (any format PyAV reads); raises :class:`AudioError` naming it."""
        from .audio import probe

        return probe(path)

    @classmethod
    def from_array(
        cls, samples: Any, sample_rate: int = SAMPLE_RATE, source: str = "<array>"
    ) -> Audio:
        """Wrap samples of shape (n,) or (channels, n), resampling to 16 kHz if needed."""
        import numpy as np

        data = np.asarray(samples, dtype=np.float32)
        if data.ndim == 1:
            data = data[None, :]
        if data.ndim != 2:
            raise ValueError(f"expected samples of shape (n,) or (channels, n), got {data.shape}")
        if sample_rate != SAMPLE_RATE:
            from .audio import resample

            data = np.stack([resample(channel, sample_rate) for channel in data])
        data = np.ascontiguousarray(data)
        data.flags.writeable = False
        return cls(source, data.shape[1] / SAMPLE_RATE, sample_rate, data.shape[0], data)

    def blocks(
        self,
        block_s: float = 30.0,
        *,
        start: float = 0.0,
        end: float | None = None,
        channel: int | None = None,
    ) -> Iterator[tuple[float, np.ndarray]]:
        """Yield ``(start_time, samples)`` blocks of 16 kHz float32 audio, in order.

        ``channel=None`` downmixes to mono; an int reads that channel alone.
        """
        if self.samples is None:
            from .audio import stream

            yield from stream(self, block_s, start=start, end=end, channel=channel)
            return
        total = self.samples.shape[1]
        first = round(start * SAMPLE_RATE)
        last = total if end is None else min(total, round(end * SAMPLE_RATE))
        step = max(1, round(block_s * SAMPLE_RATE))
        for offset in range(first, last, step):
            block = self.samples[:, offset : min(offset + step, last)]
            yield offset / SAMPLE_RATE, block.mean(axis=0) if channel is None else block[channel]

    def read(
        self, start: float = 0.0, end: float | None = None, *, channel: int | None = None
    ) -> np.ndarray:
        """Samples between two times (16 kHz float32); meant for short spans."""
        import numpy as np

        parts = [b for _, b in self.blocks(60.0, start=start, end=end, channel=channel)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Word:
    """One word with its time span and an optional confidence in [0, 1]."""

    text: str
    start: float
    end: float
    score: float | None = None

    @classmethod
    def merge(cls, words: Sequence[Word], text: str) -> Word:
        """One word standing for several: first start to last end, lowest score."""
        if not words:
            raise ValueError("cannot merge an empty run of words")
        scores = [w.score for w in words if w.score is not None]
        return cls(text, words[0].start, words[-1].end, min(scores) if scores else None)


def confidence(words: Iterable[Word]) -> float | None:
    """The confidence of a stretch of words (a segment, a clip): its least sure word's score.

    One doubtful word is enough to make a stretch worth checking, so the lowest score stands for
    all (as in :meth:`Word.merge`). Words without a score are left out; None when none has one.

    >>> confidence([Word("да", 0.0, 0.2, 0.9), Word("нет", 0.3, 0.5, 0.6), Word("ну", 0.6, 0.7)])
    0.6
    """
    scores = [w.score for w in words if w.score is not None]
    return min(scores) if scores else None


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of speech: its span, its words, and who spoke (when known)."""

    start: float
    end: float
    words: tuple[Word, ...] = ()
    speaker: str | None = None
    channel: int | None = None
    """The source channel to read; None means the mono downmix."""

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def confidence(self) -> float | None:
        """See :func:`confidence`."""
        return confidence(self.words)


@dataclass(frozen=True, slots=True)
class Metadata:
    """Where a transcript came from and what made it."""

    version: str = ""
    model: str | None = None
    revision: str | None = None
    stages: tuple[str, ...] = ()
    config_hash: str | None = None
    created: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Transcript:
    """Segments of timed words plus metadata; the one type every stage takes and returns."""

    segments: tuple[Segment, ...] = ()
    source: str | None = None
    duration: float | None = None
    metadata: Metadata = field(default_factory=Metadata)
    audio: Audio | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_text(cls, text: str, *, source: str | None = None) -> Transcript:
        """A transcript of one untimed segment (all times 0), for running text stages alone."""
        words = tuple(Word(w, 0.0, 0.0) for w in text.split())
        return cls(segments=(Segment(0.0, 0.0, words),) if words else (), source=source)

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for s in self.segments for w in s.words)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.words)

    def turns(self) -> list[Turn]:
        """Speaker turns in time order; see :func:`asr_pipeline.reading.turns`."""
        from .reading import turns

        return turns(self)

    def sentences(self) -> list[Sentence]:
        """Sentences in time order; see :func:`asr_pipeline.reading.sentences`."""
        from .reading import sentences

        return sentences(self)

    def paragraphs(self, **options: Any) -> list[Paragraph]:
        """Paragraphs in time order (options ``pause_s``, ``max_chars``); see
        :func:`asr_pipeline.reading.paragraphs`."""
        from .reading import paragraphs

        return paragraphs(self, **options)

    def map_segments(self, fn: Callable[[Segment], Segment]) -> Transcript:
        """A copy with ``fn`` applied to every segment."""
        return replace(self, segments=tuple(fn(s) for s in self.segments))

    def with_texts(self, texts: Sequence[str]) -> Transcript:
        """A copy whose words, in order, get new texts; times, scores and segments stay."""
        if len(texts) != sum(len(s.words) for s in self.segments):
            raise ValueError("with_texts needs exactly one text per word")
        it = iter(texts)
        return self.map_segments(
            lambda s: replace(s, words=tuple(replace(w, text=next(it)) for w in s.words))
        )

    def to_dict(self) -> dict[str, Any]:
        meta = asdict(self.metadata)
        meta["stages"] = list(self.metadata.stages)
        return {
            "schema": SCHEMA_VERSION,
            "source": self.source,
            "duration": self.duration,
            "metadata": meta,
            "segments": [
                {
                    "start": s.start,
                    "end": s.end,
                    "speaker": s.speaker,
                    "channel": s.channel,
                    "text": s.text,
                    "words": [asdict(w) for w in s.words],
                }
                for s in self.segments
            ],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcript:
        schema = data.get("schema")
        if schema != SCHEMA_VERSION:
            raise ValueError(
                f"unsupported transcript schema {schema!r} (expected {SCHEMA_VERSION})"
            )
        meta = dict(data.get("metadata") or {})
        meta["stages"] = tuple(meta.get("stages") or ())
        segments = tuple(
            Segment(
                start=s["start"],
                end=s["end"],
                words=tuple(Word(**w) for w in s.get("words", ())),
                speaker=s.get("speaker"),
                channel=s.get("channel"),
            )
            for s in data.get("segments", ())
        )
        return cls(segments, data.get("source"), data.get("duration"), Metadata(**meta))

    @classmethod
    def from_json(cls, text: str) -> Transcript:
        return cls.from_dict(json.loads(text))


@runtime_checkable
class Stage(Protocol):
    """A pipeline stage: a callable from transcript to transcript.

    A stage may also offer ``pipe(transcripts) -> Iterator[Transcript]`` to work in batches.
    """

    def __call__(self, transcript: Transcript, /) -> Transcript: ...


class Writer(Protocol):
    """An output format: its file extension and how to write a transcript."""

    extension: str
    binary: bool

    def write(self, transcript: Transcript, fp: TextIO, /) -> None: ...
