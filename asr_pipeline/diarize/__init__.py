"""The ``diarize`` stage: who spoke when in a mono recording.

Speaker embeddings of sliding windows over the speech segments are clustered into speakers
(:mod:`.clustering`); the labelled windows form a timeline that splits segments where the speaker
changes (:mod:`.splitting`): between words after ``ctc``, at the change points before it. The
``pyannote`` backend replaces windows and clustering with pyannote.audio's pipeline
(:mod:`.pyannote`). Speakers are named from ``input.speakers`` in order of first appearance,
else ``Спикер 1``, ``Спикер 2``, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ..errors import ConfigError
from ..types import Audio, Segment, Transcript
from .clustering import cluster
from .embeddings import SpeakerEmbedder, load_embedder
from .splitting import Span, split_segment, timeline, windows

__all__ = ["DiarizeStage", "cluster", "name_speakers"]

DEFAULT_NAME = "Спикер {}"


class DiarizeStage:
    """Find who spoke when (speaker embeddings and clustering, or pyannote) and split turns.

    Options:
        backend: "resemblyzer" (GE2E embeddings shipped with the package, works offline),
            "pyannote" (pyannote.audio's pretrained pipeline; needs HF_TOKEN or a local folder,
            see pyannote_model), or the name of an embedding model from the entry-point group
            asr_pipeline.speaker_embeddings.
        num_speakers: the number of speakers when known; null to find it.
        min_speakers: the fewest speakers to find when num_speakers is null.
        max_speakers: the most speakers to find when num_speakers is null.
        threshold: cosine distance (0..2) below which clusters of windows are one speaker when
            the count is found; lower finds more speakers.
        window_s: seconds of speech per embedding window.
        hop_s: seconds between window starts; also the resolution of change points.
        per_channel: on a channel-split transcript (input.channels) cluster within each channel
            too (channel speaker names get a number); off leaves such transcripts as they are.
        speakers: names in order of first appearance (default: input.speakers).
        pyannote_model: backend "pyannote": a hub ID or a local folder holding the pipeline's
            config.yaml.
        device: where the embedding model runs ("cpu", "cuda"); null or "auto": CUDA when
            there is one, else the CPU.
    """

    def __init__(
        self,
        *,
        backend: str = "resemblyzer",
        num_speakers: int | None = None,
        min_speakers: int = 1,
        max_speakers: int = 8,
        threshold: float = 0.3,
        window_s: float = 1.5,
        hop_s: float = 0.75,
        per_channel: bool = False,
        speakers: list[str] | None = None,
        pyannote_model: str = "pyannote/speaker-diarization-3.1",
        device: str | None = None,
    ) -> None:
        if num_speakers is not None and num_speakers < 1:
            raise ConfigError(f"expected 1 or more, got {num_speakers}", "num_speakers")
        if min_speakers < 1 or max_speakers < min_speakers:
            raise ConfigError(
                f"expected 1 <= min_speakers <= max_speakers, got {min_speakers} and "
                f"{max_speakers}",
                "max_speakers" if min_speakers >= 1 else "min_speakers",
            )
        if not 0.0 < threshold < 2.0:
            raise ConfigError(
                f"expected a cosine distance between 0 and 2, got {threshold}", "threshold"
            )
        if window_s <= 0 or not 0 < hop_s <= window_s:
            raise ConfigError(
                f"expected 0 < hop_s <= window_s, got hop_s={hop_s}, window_s={window_s}", "hop_s"
            )
        self.backend = backend
        self.num_speakers = num_speakers
        self.min_speakers = min_speakers
        self.max_speakers = max_speakers
        self.threshold = threshold
        self.window_s = window_s
        self.hop_s = hop_s
        self.per_channel = per_channel
        self.speakers = list(speakers or [])
        self._pyannote = None
        self._embedder: SpeakerEmbedder | None = None
        if backend == "pyannote":
            from .pyannote import PyannoteDiarizer

            self._pyannote = PyannoteDiarizer(pyannote_model, device=device)
        else:
            self._embedder = load_embedder(backend, device)

    def __call__(self, transcript: Transcript) -> Transcript:
        audio = transcript.audio
        if audio is None or not transcript.segments:
            return transcript
        channels = {s.channel for s in transcript.segments}
        if channels != {None}:
            if not self.per_channel:
                return transcript
            segments: list[Segment] = []
            for channel in sorted(channels, key=lambda c: -1 if c is None else c):
                group = [s for s in transcript.segments if s.channel == channel]
                named = self._diarize(audio, group)
                base = group[0].speaker or DEFAULT_NAME.format((channel or 0) + 1)
                segments += name_speakers(
                    named, [f"{base} {i + 1}" for i in range(len(named))], solo=base
                )
        else:
            segments = name_speakers(self._diarize(audio, list(transcript.segments)), self.speakers)
        segments.sort(key=lambda s: (s.start, s.end, -1 if s.channel is None else s.channel))
        return replace(transcript, segments=tuple(segments))

    def _diarize(self, audio: Audio, segments: list[Segment]) -> list[Segment]:
        """Segments split by speaker, each ``speaker`` holding its cluster label as text."""
        found = self._timelines(audio, segments)
        timed = [(s, spans) for s, spans in zip(segments, found, strict=True) if spans]
        if not timed:
            return [replace(s, speaker="0") for s in segments]
        result: list[Segment] = []
        for segment, spans in zip(segments, found, strict=True):
            if not spans:  # too short for a window: the nearest segment's speaker
                middle = (segment.start + segment.end) / 2
                near = min(
                    timed, key=lambda t: min(abs(t[0].start - middle), abs(t[0].end - middle))
                )
                spans = near[1]
            result += split_segment(segment, spans, tolerance_s=self.hop_s)
        return result

    def _timelines(self, audio: Audio, segments: list[Segment]) -> list[list[Span]]:
        """A timeline per segment."""
        if self._pyannote is not None:
            found = self._pyannote.timeline(
                audio,
                segments[0].channel,
                num_speakers=self.num_speakers,
                min_speakers=self.min_speakers,
                max_speakers=self.max_speakers,
            )
            return [found for _ in segments]
        assert self._embedder is not None
        placed: list[list[tuple[float, float]]] = []
        samples: list[np.ndarray] = []
        for segment in segments:
            end = min(segment.end, audio.duration)
            spans = windows(segment.start, end, self.window_s, self.hop_s)
            placed.append(spans)
            if spans:
                data = audio.read(segment.start, end, channel=segment.channel)
                for a, b in spans:
                    i, j = (
                        round((a - segment.start) * Audio.SAMPLE_RATE),
                        round((b - segment.start) * Audio.SAMPLE_RATE),
                    )
                    samples.append(data[i:j])
        embeddings = np.asarray(self._embedder.embed(samples)) if samples else np.zeros((0, 1))
        if len(embeddings) != len(samples):
            raise ValueError(
                f"the embedding model returned {len(embeddings)} rows for {len(samples)} windows"
            )
        full = np.array([len(x) >= round(self.window_s * Audio.SAMPLE_RATE) - 1 for x in samples])
        labels = cluster(
            embeddings,
            reliable=full,
            num_speakers=self.num_speakers,
            min_speakers=self.min_speakers,
            max_speakers=self.max_speakers,
            threshold=self.threshold,
        ).tolist()
        result: list[list[Span]] = []
        for segment, spans in zip(segments, placed, strict=True):
            own, labels = labels[: len(spans)], labels[len(spans) :]
            result.append(timeline(spans, own, segment.start, segment.end) if spans else [])
        return result


def name_speakers(
    segments: Sequence[Segment], names: Sequence[str], solo: str | None = None
) -> list[Segment]:
    """Replace cluster labels by names in order of first appearance: ``names`` first, then
    ``Спикер N``; with a single speaker, ``solo`` (when given) names it."""
    order: dict[str | None, int] = {}
    for segment in sorted(segments, key=lambda s: s.start):
        if segment.words or not any(s.words for s in segments):
            order.setdefault(segment.speaker, len(order))
    for segment in segments:
        order.setdefault(segment.speaker, len(order))

    def name(label: str | None) -> str:
        index = order[label]
        if solo is not None and len(order) == 1:
            return solo
        return names[index] if index < len(names) else DEFAULT_NAME.format(index + 1)

    return [replace(s, speaker=name(s.speaker)) for s in segments]
