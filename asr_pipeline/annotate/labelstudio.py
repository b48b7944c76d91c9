"""Label Studio, "ASR using segments": pre-annotated tasks out, corrected exports back in.

A task is one source recording; each clip is a region made of two results sharing one ``id``:
``labels`` (its span) and ``transcription`` (a ``textarea`` whose ``value.text`` is a list, as
Label Studio requires). Exports are read back from the annotations (not the predictions): every
region left standing gives a manifest row of its span and corrected text; deleted regions are
simply gone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import AsrPipelineError
from ..io import atomic_write
from .clips import Clip

__all__ = [
    "LABELING_CONFIG",
    "AnnotationError",
    "Imported",
    "import_annotations",
    "read_export",
    "task",
]

LABELING_CONFIG = """\
<View>
  <Labels name="labels" toName="audio">
    <Label value="Speech" />
    <Label value="Noise" />
  </Labels>
  <Audio name="audio" value="$audio"/>
  <TextArea name="transcription" toName="audio"
            rows="2" editable="true"
            perRegion="true" required="true" />
</View>
"""
"""The labeling config the tasks are made for (Label Studio's "ASR using segments")."""

_SPAN_SLACK_S = 0.01
"""A region within this of a file's both ends covers the whole file (no offset/duration)."""


class AnnotationError(AsrPipelineError, ValueError):
    """A Label Studio export that cannot be read; the message names the file and the task."""


def task(
    audio_url: str,
    clips: Sequence[Clip],
    *,
    source: str,
    duration: float,
    model_version: str,
) -> dict[str, Any]:
    """A pre-annotated task: the source's audio and one region per clip, scored."""
    result: list[dict[str, Any]] = []
    scores = [c.confidence for c in clips if c.confidence is not None]
    for clip in clips:
        span = {"start": clip.start, "end": clip.end, "channel": clip.channel or 0}
        common = {"id": clip.name, "to_name": "audio", "origin": "prediction"}
        if clip.confidence is not None:
            common["score"] = round(clip.confidence, 4)
        result.append(
            {
                **common,
                "from_name": "labels",
                "type": "labels",
                "value": {**span, "labels": ["Speech"]},
            }
        )
        result.append(
            {
                **common,
                "from_name": "transcription",
                "type": "textarea",
                "value": {**span, "text": [clip.text]},
            }
        )
    prediction: dict[str, Any] = {"model_version": model_version, "result": result}
    if scores:
        prediction["score"] = round(min(scores), 4)
    return {
        "data": {"audio": audio_url, "source": source, "duration": duration},
        "predictions": [prediction],
    }


# ---------------------------------------------------------------- import


class Imported:
    """Rows read from an export, and what was not taken."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.unannotated: list[str] = []
        """Ids of tasks with no (non-cancelled) annotation."""
        self.empty_regions = 0
        """Regions whose text was left empty."""


def read_export(path: str | Path, *, audio_url_prefix: str | None = None) -> Imported:
    """Manifest rows (``audio``, ``text``, and ``offset``/``duration`` for a span of a longer
    file) from a Label Studio JSON export.

    Each task's latest annotation that was not cancelled is taken. ``audio`` is the task's
    audio with ``audio_url_prefix`` taken off its front. Raises :class:`AnnotationError` naming
    the task for anything malformed.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise AnnotationError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise AnnotationError(f"{path}: cannot read the export ({e})") from None
    except json.JSONDecodeError as e:
        raise AnnotationError(
            f"{path}: not a Label Studio JSON export ({e.msg} at line {e.lineno}); "
            "export the project as JSON (not JSON-MIN or CSV)"
        ) from None
    if not isinstance(data, list):
        raise AnnotationError(f"{path}: expected a JSON list of tasks (Label Studio's JSON export)")
    imported = Imported()
    for index, item in enumerate(data):
        where = f"{path}: task {_task_id(item, index)}"
        if not isinstance(item, Mapping):
            raise AnnotationError(f"{where}: expected a JSON object")
        annotation = _latest_annotation(item, where)
        if annotation is None:
            imported.unannotated.append(_task_id(item, index))
            continue
        audio, duration = _audio(item, where, audio_url_prefix)
        for start, end, text in _regions(annotation["result"], where):
            if not text:
                imported.empty_regions += 1
                continue
            row: dict[str, Any] = {"audio": audio, "text": text}
            whole = (
                duration is not None and start <= _SPAN_SLACK_S and end >= duration - _SPAN_SLACK_S
            )
            if not whole:
                row |= {"offset": round(start, 3), "duration": round(end - start, 3)}
            imported.rows.append(row)
    return imported


def import_annotations(
    export: str | Path, output: str | Path, *, audio_url_prefix: str | None = None
) -> Imported:
    """Read an export (:func:`read_export`) and write its rows as a JSONL manifest, atomically."""
    imported = read_export(export, audio_url_prefix=audio_url_prefix)
    with atomic_write(output) as fp:
        for row in imported.rows:
            fp.write(json.dumps(row, ensure_ascii=False) + "\n")
    return imported


def _task_id(item: Any, index: int) -> str:
    if isinstance(item, Mapping) and item.get("id") is not None:
        return str(item["id"])
    return f"#{index + 1} (no id)"


def _latest_annotation(item: Mapping[str, Any], where: str) -> Mapping[str, Any] | None:
    annotations = item.get("annotations", [])
    if not isinstance(annotations, list):
        raise AnnotationError(f"{where}: 'annotations' must be a list")
    kept = []
    for annotation in annotations:
        if not isinstance(annotation, Mapping) or not isinstance(annotation.get("result"), list):
            raise AnnotationError(f"{where}: an annotation without a 'result' list")
        if not annotation.get("was_cancelled"):
            kept.append(annotation)
    if not kept:
        return None
    return max(kept, key=lambda a: str(a.get("updated_at") or a.get("created_at") or ""))


def _audio(item: Mapping[str, Any], where: str, prefix: str | None) -> tuple[str, float | None]:
    data = item.get("data")
    audio = data.get("audio") if isinstance(data, Mapping) else None
    if not isinstance(audio, str) or not audio.strip():
        raise AnnotationError(f"{where}: no 'data.audio' (the audio the task shows)")
    if prefix and audio.startswith(prefix):
        audio = audio[len(prefix) :]
    duration = data.get("duration")
    return audio, float(duration) if isinstance(duration, int | float) else None


def _regions(results: Iterable[Any], where: str) -> Iterator[tuple[float, float, str]]:
    """``(start, end, text)`` per region, in time order; the span from its ``labels`` result
    when it has one (a region is moved as a whole, so both agree)."""
    regions: dict[str, dict[str, Any]] = {}
    for result in results:
        if not isinstance(result, Mapping) or result.get("type") not in ("labels", "textarea"):
            continue
        region = result.get("id")
        value = result.get("value")
        if not isinstance(value, Mapping) or region is None:
            raise AnnotationError(f"{where}: a {result.get('type')} result without 'id' or 'value'")
        entry = regions.setdefault(str(region), {})
        try:
            start, end = float(value["start"]), float(value["end"])
        except (KeyError, TypeError, ValueError):
            raise AnnotationError(
                f"{where}: region {region}: 'value.start' and 'value.end' must be seconds"
            ) from None
        if not 0 <= start < end:
            raise AnnotationError(f"{where}: region {region}: bad span {start} to {end}")
        if result["type"] == "labels" or "span" not in entry:
            entry["span"] = (start, end)
        if result["type"] == "textarea":
            text = value.get("text")
            if isinstance(text, str):
                text = [text]
            if not isinstance(text, list) or not all(isinstance(t, str) for t in text):
                raise AnnotationError(
                    f"{where}: region {region}: 'value.text' must be a list of strings"
                )
            entry["text"] = " ".join(" ".join(t.split()) for t in text if t.strip())
    for entry in sorted(regions.values(), key=lambda e: e["span"]):
        yield (*entry["span"], entry.get("text", ""))
