"""Evaluation manifests (TSV or JSONL) and hypothesis files, read with line-numbered errors."""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AsrPipelineError

__all__ = [
    "Entry",
    "Hypotheses",
    "ManifestError",
    "check_audio",
    "read_audio_list",
    "read_hypotheses",
    "read_manifest",
]

REQUIRED = ("audio", "text")
AUDIO_KEYS = ("audio", "audio_filepath")
"""The audio column: ours, or NeMo's manifest key."""
RESERVED = frozenset({*AUDIO_KEYS, "text", "id", "offset", "duration", "rttm"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})


class ManifestError(AsrPipelineError, ValueError):
    """A manifest or hypothesis file that cannot be used; the message names file and line."""


@dataclass(frozen=True)
class Entry:
    """One manifest line: an audio file (or a span of it), its reference text and its tags."""

    id: str
    audio: str
    """The audio path as written in the manifest."""
    path: Path
    """The audio path resolved against the manifest's folder."""
    text: str
    tags: Mapping[str, str] = field(default_factory=dict)
    line: int = 0
    manifest: Path | None = None
    offset: float | None = None
    """Where the span to recognise starts (seconds); None: the file's start."""
    duration: float | None = None
    """How long the span lasts (seconds); None: to the file's end."""

    @property
    def is_span(self) -> bool:
        """True when only part of the file is to be recognised."""
        return self.offset is not None or self.duration is not None

    @property
    def span(self) -> tuple[float, float | None]:
        """``(start, end)`` in seconds of the audio to recognise; end None is the file's end."""
        start = self.offset or 0.0
        return start, None if self.duration is None else start + self.duration

    rttm: Path | None = None
    """The reference speaker turns (column ``rttm``), resolved like the audio path."""

    @property
    def where(self) -> str:
        """``manifest.tsv: line 3``, for messages."""
        return f"{self.manifest}: line {self.line}" if self.manifest else f"line {self.line}"


def read_manifest(path: str | Path) -> list[Entry]:
    """Entries from a TSV (header line naming the columns) or JSONL manifest.

    Columns/keys: ``audio`` (or NeMo's ``audio_filepath``) and ``text`` (required), ``offset``
    and ``duration`` (seconds: only that span of the file is meant; in a row that names its
    ``source``, a clip ``annotate`` cut, they say where in the source it was and the whole clip
    is meant), ``id`` (default: the audio path, plus the span), ``rttm`` (a reference RTTM
    file, for DER) and any others, taken as tags. Blank lines are skipped. Raises
    :class:`ManifestError` with the line number for a malformed line, a missing column, an
    empty reference, a bad span or a duplicate.
    """
    path = Path(path)
    text = _read(path)
    entries = [_entry(path, number, row) for number, row in _rows(path, text, REQUIRED)]
    if not entries:
        raise ManifestError(f"{path}: the manifest has a header but no entries")
    _check_unique(path, entries)
    return entries


def read_audio_list(path: str | Path) -> list[Path]:
    """The audio files of a manifest in the same formats, where only ``audio`` is required.

    Paths are resolved against the manifest's folder. Raises :class:`ManifestError` with the
    line number for a malformed line or an audio file that does not exist.
    """
    path = Path(path)
    files = []
    for number, row in _rows(path, _read(path), ("audio",)):
        audio = row["audio"] if "audio" in row else row[AUDIO_KEYS[1]]
        if not isinstance(audio, str) or not audio.strip():
            where = f"{path}: line {number}"
            raise ManifestError(f"{where}: 'audio' must be a file path, got {audio!r}")
        resolved = Path(audio.strip())
        resolved = resolved if resolved.is_absolute() else path.parent / resolved
        if not resolved.is_file():
            raise ManifestError(f"{path}: line {number}: no such audio file: {resolved}")
        files.append(resolved)
    if not files:
        raise ManifestError(f"{path}: the manifest has a header but no entries")
    return files


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such manifest") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path}: cannot read the manifest ({e})") from None


def _rows(path: Path, text: str, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    lines = list(_numbered(text))
    if not lines:
        raise ManifestError(f"{path}: the manifest is empty")
    if _is_jsonl(path, lines):
        return _jsonl_rows(path, lines, required)
    return _tsv_rows(path, lines, required)


def check_audio(entries: Sequence[Entry]) -> None:
    """Raise :class:`ManifestError` for the first entry whose audio file does not exist."""
    for entry in entries:
        if not entry.path.is_file():
            raise ManifestError(
                f"{entry.where}: audio file not found: {entry.path} "
                "(paths are relative to the manifest's folder)"
            )


def _numbered(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield number, line


def _is_jsonl(path: Path, lines: list[tuple[int, str]]) -> bool:
    if path.suffix.lower() in JSONL_SUFFIXES:
        return True
    return path.suffix.lower() not in {".tsv", ".txt"} and lines[0][1].lstrip().startswith("{")


def _tsv_rows(
    path: Path, lines: list[tuple[int, str]], required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, Any]]]:
    header_line, header = lines[0]
    columns = [c.strip() for c in header.split("\t")]
    for name in required:
        if name not in columns and not (name == "audio" and AUDIO_KEYS[1] in columns):
            found = ", ".join(repr(c) for c in columns)
            raise ManifestError(
                f"{path}: line {header_line}: no '{name}' column in the header (found {found}); "
                "the first line names the tab-separated columns: audio, text, optional id and tags"
            )
    seen: set[str] = set()
    for column in columns:
        if not column or column in seen:
            what = "an empty" if not column else f"a second '{column}'"
            raise ManifestError(f"{path}: line {header_line}: {what} column name in the header")
        seen.add(column)
    for number, line in lines[1:]:
        fields = line.split("\t")
        if len(fields) != len(columns):
            raise ManifestError(
                f"{path}: line {number}: expected {len(columns)} tab-separated fields "
                f"({', '.join(columns)}), got {len(fields)}"
            )
        yield number, dict(zip(columns, fields, strict=True))


def _jsonl_rows(
    path: Path, lines: list[tuple[int, str]], required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in lines:
        row = _json_object(path, number, line)
        for name in required:
            if name not in row and not (name == "audio" and AUDIO_KEYS[1] in row):
                raise ManifestError(f"{path}: line {number}: no '{name}' key")
        yield number, row


def _json_object(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise ManifestError(
            f"{path}: line {number}: not valid JSON ({e.msg} at column {e.colno})"
        ) from None
    if not isinstance(row, dict):
        raise ManifestError(f"{path}: line {number}: expected a JSON object, got {line.strip()}")
    return row


def _entry(path: Path, number: int, row: dict[str, Any]) -> Entry:
    where = f"{path}: line {number}"
    audio = row["audio"] if "audio" in row else row[AUDIO_KEYS[1]]
    text = row["text"]
    if not isinstance(audio, str) or not audio.strip():
        raise ManifestError(f"{where}: 'audio' must be a file path, got {audio!r}")
    audio = audio.strip()
    if not isinstance(text, str):
        raise ManifestError(f"{where}: 'text' must be a string, got {text!r}")
    if not text.strip():
        raise ManifestError(f"{where}: empty reference text for '{audio}'")
    offset = _seconds(where, row, "offset", positive=False)
    duration = _seconds(where, row, "duration", positive=True)
    if _is_cut_clip(row):
        offset = duration = None
    entry_id = row.get("id")
    if entry_id is None or str(entry_id).strip() == "":
        entry_id = (
            audio if offset is None and duration is None else _span_id(audio, offset, duration)
        )
    else:
        entry_id = str(entry_id).strip()
    tags = {}
    for name, value in row.items():
        if name in RESERVED or value is None:
            continue
        if not isinstance(value, str | int | float | bool):
            raise ManifestError(f"{where}: tag '{name}' must be text or a number, got {value!r}")
        if str(value).strip():
            tags[str(name)] = str(value).strip()
    resolved = Path(audio) if Path(audio).is_absolute() else path.parent / audio
    rttm = row.get("rttm")
    if rttm is not None and not isinstance(rttm, str):
        raise ManifestError(f"{where}: 'rttm' must be a file path, got {rttm!r}")
    rttm_path = None
    if rttm and rttm.strip():
        rttm_path = (
            Path(rttm.strip()) if Path(rttm.strip()).is_absolute() else path.parent / rttm.strip()
        )
    return Entry(entry_id, audio, resolved, text, tags, number, path, offset, duration, rttm_path)


def _is_cut_clip(row: dict[str, Any]) -> bool:
    """True for a clip already cut from the recording its ``source`` names (``annotate``'s
    manifests): its ``offset`` and ``duration`` say where in ``source`` it was, not a span of
    ``audio``."""
    source = row.get("source")
    return isinstance(source, str) and bool(source.strip())


def _seconds(where: str, row: dict[str, Any], name: str, *, positive: bool) -> float | None:
    """An optional time in seconds (a number, or a number as text in TSV)."""
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        seconds = float(value) if not isinstance(value, bool) else math.nan
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0 or (positive and seconds == 0):
        wanted = "a positive number" if positive else "a number >= 0"
        raise ManifestError(f"{where}: '{name}' must be {wanted} of seconds, got {value!r}")
    return seconds


def _span_id(audio: str, offset: float | None, duration: float | None) -> str:
    """``talk.wav@12.5-17.25``: the default id of a span."""
    start = offset or 0.0
    end = "" if duration is None else f"{start + duration:g}"
    return f"{audio}@{start:g}-{end}"


def _check_unique(path: Path, entries: list[Entry]) -> None:
    ids: dict[str, int] = {}
    audio: dict[tuple[str, tuple[float, float | None]], int] = {}
    for entry in entries:
        key = (os.path.normpath(entry.path), entry.span)
        for seen, value, what in ((audio, key, "audio file"), (ids, entry.id, "id")):
            first = seen.setdefault(value, entry.line)
            if first != entry.line:
                shown = entry.id if what == "id" else entry.audio
                what = "span of audio file" if what == "audio file" and entry.is_span else what
                raise ManifestError(
                    f"{path}: line {entry.line}: {what} '{shown}' is already on line {first}"
                )


# ---------------------------------------------------------------- hypotheses


@dataclass
class Hypotheses:
    """Hypothesis texts by entry id, plus what could not be matched."""

    texts: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    """Entry id -> why it has no hypothesis."""
    unmatched: list[str] = field(default_factory=list)
    """Hypotheses that match no entry (their audio as written)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """model, revision, config_hash, stages of saved transcripts, when they agree."""
    turns: dict[str, list[tuple[str, float, float]]] | None = None
    """Entry id -> speaker turns, for entries with an RTTM reference; None for JSONL
    hypotheses, which carry no times."""


def read_hypotheses(source: str | Path, entries: Sequence[Entry]) -> Hypotheses:
    """Hypotheses for ``entries`` from a JSONL file or a folder of JSON transcripts.

    JSONL lines carry ``audio`` (as in the manifest) or ``id``, and ``text``. In a folder, an
    entry's transcript is ``<audio stem>.json`` as ``transcribe -f json`` writes it.
    """
    source = Path(source)
    if source.is_dir():
        return _folder_hypotheses(source, entries)
    if not source.is_file():
        raise ManifestError(f"{source}: no such hypothesis file or folder")
    return _jsonl_hypotheses(source, entries)


def _jsonl_hypotheses(path: Path, entries: Sequence[Entry]) -> Hypotheses:
    counts = Counter(os.path.normpath(e.audio) for e in entries)
    # spans of one file are told apart by their ids only
    by_audio = {
        os.path.normpath(e.audio): e for e in entries if counts[os.path.normpath(e.audio)] == 1
    }
    by_id = {e.id: e for e in entries}
    result = Hypotheses()
    first_line: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path}: cannot read the hypotheses ({e})") from None
    for number, line in _numbered(text):
        row = _json_object(path, number, line)
        if "audio" not in row and "id" not in row:
            raise ManifestError(f"{path}: line {number}: no 'audio' key")
        hypothesis = row.get("text")
        if not isinstance(hypothesis, str):
            raise ManifestError(
                f"{path}: line {number}: 'text' must be a string, got {hypothesis!r}"
            )
        key = row.get("audio")
        entry = by_id.get(str(row["id"])) if "id" in row else None
        if entry is None and isinstance(key, str):
            entry = by_audio.get(os.path.normpath(key.strip()))
        if entry is None:
            result.unmatched.append(str(key if key is not None else row.get("id")))
            continue
        first = first_line.setdefault(entry.id, number)
        if first != number:
            raise ManifestError(
                f"{path}: line {number}: a second hypothesis for '{entry.audio}' "
                f"(the first is on line {first})"
            )
        result.texts[entry.id] = hypothesis
    for entry in entries:
        if entry.id not in result.texts:
            result.missing[entry.id] = f"{entry.audio}: no hypothesis in {path}"
    return result


def _folder_hypotheses(folder: Path, entries: Sequence[Entry]) -> Hypotheses:
    from ..types import Transcript
    from .speakers import speaker_turns

    stems: dict[str, Entry] = {}
    for entry in entries:
        stem = Path(entry.audio).stem
        other = stems.setdefault(stem.casefold(), entry)
        if other is not entry:
            raise ManifestError(
                f"{folder}: transcripts are matched by audio stem, but '{stem}' is the stem of "
                f"'{other.audio}' (line {other.line}) and '{entry.audio}' (line {entry.line})"
            )
    result = Hypotheses(turns={})
    seen_metadata: dict[str, set[Any]] = {}
    for entry in entries:
        path = folder / f"{Path(entry.audio).stem}.json"
        if not path.is_file():
            result.missing[entry.id] = f"{entry.audio}: no transcript {path}"
            continue
        try:
            transcript = Transcript.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ManifestError(f"{path}: not a transcript saved as JSON ({e})") from None
        result.texts[entry.id] = transcript.text
        if entry.rttm is not None and result.turns is not None:
            result.turns[entry.id] = speaker_turns(transcript)
        meta = transcript.metadata
        for name in ("model", "revision", "config_hash", "stages"):
            value = getattr(meta, name)
            seen_metadata.setdefault(name, set()).add(tuple(value) if name == "stages" else value)
    result.metadata = {
        name: list(value) if isinstance(value, tuple) else value
        for name, values in seen_metadata.items()
        if len(values) == 1 and (value := next(iter(values))) is not None
    }
    return result
