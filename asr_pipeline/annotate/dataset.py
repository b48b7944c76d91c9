"""A speech dataset folder: clips cut from transcripts, a record per source, and the manifests.

Layout::

    DATASET/
      audio/<stem>_<nnnnn>.wav        the clips, 16 kHz mono PCM16
      annotations/<stem>.clips.json   what was cut from each source (read back on every run)
      annotations/<stem>.TextGrid     per-source formats (textgrid, eaf, ctm), when asked for
      manifest.jsonl                  nemo
      metadata.jsonl                  hf (datasets "audiofolder")
      tasks.json, labeling_config.xml labelstudio

The manifests are rebuilt from every record in ``annotations/`` after each run, so a dataset
grows run by run and a re-run that skips finished sources leaves them consistent.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AsrPipelineError
from ..io import atomic_write
from ..types import SAMPLE_RATE, Transcript, Word
from .clips import Clip, cut_clips
from .labelstudio import LABELING_CONFIG, task

__all__ = ["DATASET_FORMATS", "AddToDataset", "Dataset", "SourceRecord"]

DATASET_FORMATS = ("nemo", "hf", "labelstudio")
"""Formats written over the whole dataset (the others are writers, one file per source)."""
RECORD_SUFFIX = ".clips.json"


@dataclass(frozen=True)
class SourceRecord:
    """The clips kept from one source and how many were left out, and why."""

    source: str
    """The source path as it was given."""
    duration: float
    clips: tuple[Clip, ...]
    model: str | None = None
    low_confidence: int = 0
    too_short: int = 0
    too_long: int = 0

    @property
    def stem(self) -> str:
        return Path(self.source).stem

    def to_dict(self) -> dict[str, Any]:
        clips = [
            {
                "name": c.name,
                "start": c.start,
                "end": c.end,
                "speaker": c.speaker,
                "channel": c.channel,
                "words": [[w.text, w.start, w.end, w.score] for w in c.words],
            }
            for c in self.clips
        ]
        return {
            "source": self.source,
            "duration": self.duration,
            "model": self.model,
            "left_out": {
                "low_confidence": self.low_confidence,
                "too_short": self.too_short,
                "too_long": self.too_long,
            },
            "clips": clips,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceRecord:
        clips = tuple(
            Clip(
                c["name"],
                c["start"],
                c["end"],
                tuple(Word(*w) for w in c["words"]),
                c.get("speaker"),
                c.get("channel"),
            )
            for c in data["clips"]
        )
        left = data.get("left_out", {})
        return cls(data["source"], data["duration"], clips, data.get("model"), **left)


@dataclass
class Dataset:
    """A dataset folder that clips are added to, source by source.

    >>> dataset = Dataset("corpus", min_confidence=0.5)          # doctest: +SKIP
    >>> record = dataset.add(pipeline("talk.wav"))                # doctest: +SKIP
    >>> dataset.export(["nemo", "hf"])                            # doctest: +SKIP
    """

    root: Path
    min_duration: float = 1.0
    max_duration: float = 20.0
    min_confidence: float = 0.0
    """Clips under this confidence are left out; a clip with no word scores counts as 0."""
    records: dict[str, SourceRecord] = field(init=False, repr=False)
    """Every source in the dataset by stem, read from ``annotations/`` and kept up to date."""

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if not 0 <= self.min_duration < self.max_duration:
            raise ValueError(
                "the shortest clip must be at least 0 s and shorter than the longest, got "
                f"{self.min_duration} and {self.max_duration}"
            )
        self.records = {}
        if self.annotations.is_dir():
            for path in sorted(self.annotations.glob(f"*{RECORD_SUFFIX}")):
                record = _read_record(path)
                self.records[record.stem] = record

    @property
    def audio(self) -> Path:
        return self.root / "audio"

    @property
    def annotations(self) -> Path:
        return self.root / "annotations"

    def record_path(self, stem: str) -> Path:
        return self.annotations / f"{stem}{RECORD_SUFFIX}"

    def clip_path(self, clip: Clip) -> Path:
        return self.audio / f"{clip.name}.wav"

    def check_source(self, source: str | Path) -> None:
        """Refuse a source whose stem another source's clips already use in this dataset."""
        known = self.records.get(Path(source).stem)
        if known is not None and Path(known.source).name != Path(source).name:
            raise AsrPipelineError(
                f"{source}: this dataset already has clips named {known.stem}_* from "
                f"{known.source}; rename the file or annotate into another dataset"
            )

    def add(self, transcript: Transcript) -> SourceRecord:
        """Cut ``transcript`` into clips, write the kept clips' audio and the source's record.

        Clips of this source from an earlier run are replaced. On failure, the clips written
        so far are removed and the earlier record (if any) stays.
        """
        if transcript.audio is None or transcript.source is None:
            raise ValueError("the transcript has no audio to cut clips from")
        self.check_source(transcript.source)
        stem = Path(transcript.source).stem
        cutting = cut_clips(
            transcript, stem, min_duration=self.min_duration, max_duration=self.max_duration
        )
        kept = [c for c in cutting.clips if (c.confidence or 0.0) >= self.min_confidence]
        record = SourceRecord(
            transcript.source,
            transcript.duration or 0.0,
            tuple(kept),
            transcript.metadata.model,
            low_confidence=len(cutting.clips) - len(kept),
            too_short=cutting.too_short,
            too_long=cutting.too_long,
        )
        self.audio.mkdir(parents=True, exist_ok=True)
        self.annotations.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        try:
            for clip in kept:
                path = self.clip_path(clip)
                _write_wav(path, transcript.audio.read(clip.start, clip.end, channel=clip.channel))
                written.append(path)
            with atomic_write(self.record_path(stem)) as fp:
                json.dump(record.to_dict(), fp, ensure_ascii=False, indent=1)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        names = {self.clip_path(c).name for c in kept}
        for stale in self.audio.glob(f"{glob.escape(stem)}_{'[0-9]' * 5}.wav"):
            if stale.name not in names:  # from an earlier run of this source
                stale.unlink(missing_ok=True)
        self.records[stem] = record
        return record

    def export(
        self, formats: Iterable[str], *, audio_url_prefix: str = "", model_version: str = ""
    ) -> list[Path]:
        """Rebuild the dataset-wide files of ``formats`` (of :data:`DATASET_FORMATS`) from every
        record; returns the paths written."""
        records = [self.records[stem] for stem in sorted(self.records)]
        written = []
        for fmt in formats:
            if fmt == "nemo":
                written.append(self._jsonl("manifest.jsonl", records, "audio_filepath"))
            elif fmt == "hf":
                written.append(self._jsonl("metadata.jsonl", records, "file_name"))
            elif fmt == "labelstudio":
                written += self._labelstudio(records, audio_url_prefix, model_version)
        return written

    def _jsonl(self, name: str, records: Sequence[SourceRecord], audio_key: str) -> Path:
        path = self.root / name
        with atomic_write(path) as fp:
            for record in records:
                for clip in record.clips:
                    row = {
                        audio_key: self.clip_path(clip).relative_to(self.root).as_posix(),
                        "duration": round(clip.duration, 3),
                        "text": clip.text,
                        "source": record.source,
                        "offset": clip.start,
                        "confidence": _rounded(clip.confidence),
                        "speaker": clip.speaker,
                    }
                    fp.write(json.dumps(row, ensure_ascii=False) + "\n")
        return path

    def _labelstudio(
        self, records: Sequence[SourceRecord], prefix: str, model_version: str
    ) -> list[Path]:
        tasks = [
            task(
                prefix + Path(r.source).name,
                r.clips,
                source=r.source,
                duration=r.duration,
                model_version=r.model or model_version or "asr-pipeline",
            )
            for r in records
            if r.clips
        ]
        paths = [self.root / "tasks.json", self.root / "labeling_config.xml"]
        with atomic_write(paths[0]) as fp:
            json.dump(tasks, fp, ensure_ascii=False, indent=1)
            fp.write("\n")
        with atomic_write(paths[1]) as fp:
            fp.write(LABELING_CONFIG)
        return paths


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _write_wav(path: Path, samples: Any) -> None:
    """16 kHz mono PCM16 WAV, atomically."""
    import soundfile as sf

    with atomic_write(path, binary=True) as fp:
        sf.write(fp, samples, SAMPLE_RATE, subtype="PCM_16", format="WAV")


def _read_record(path: Path) -> SourceRecord:
    try:
        return SourceRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AsrPipelineError(
            f"{path}: not a clip record written by asr-pipeline annotate ({e}); "
            "delete it to annotate that source again"
        ) from None


@dataclass
class AddToDataset:
    """Adds each transcript's clips to the dataset at ``root``, where the transcript was made
    (this process, or a Ray worker writing into a shared folder): a batch job's ``then``."""

    root: Path
    min_duration: float = 1.0
    max_duration: float = 20.0
    min_confidence: float = 0.0
    stage = "dataset"
    """The stage a failure is recorded under."""
    _dataset: Dataset | None = field(default=None, init=False, repr=False)

    def __call__(self, transcript: Transcript) -> SourceRecord:
        if self._dataset is None:  # read once per process, on the first file
            self._dataset = Dataset(
                self.root, self.min_duration, self.max_duration, self.min_confidence
            )
        return self._dataset.add(transcript)
