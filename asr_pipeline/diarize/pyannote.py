"""The ``pyannote`` backend: pyannote.audio's pretrained diarization pipeline.

Its weights are gated on the Hugging Face hub: they download with a token (``HF_TOKEN``) after
accepting the model's conditions, or load offline from a local folder holding the pipeline's
``config.yaml`` (with the model paths in it pointing at local files).
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..types import SAMPLE_RATE, Audio
from .splitting import Span

__all__ = ["PyannoteDiarizer"]

INSTALL = (
    "the diarize stage (backend 'pyannote') needs pyannote.audio, which needs torchaudio for "
    "your torch: pip install pyannote.audio; or use backend 'resemblyzer', which works offline"
)


class PyannoteDiarizer:
    """pyannote.audio's speaker diarization pipeline, from the hub or a local folder."""

    def __init__(self, model: str, *, device: str | None = None) -> None:
        try:
            from pyannote.audio import Pipeline
        except ImportError as e:
            raise ModelError(INSTALL) from e
        folder = Path(model).expanduser()
        if folder.is_dir():
            config = folder / "config.yaml"
            if not config.is_file():
                raise ModelError(
                    f"{folder}: no config.yaml; a local pyannote pipeline is a folder holding the "
                    "pipeline's config.yaml (from the model's hub page) with its model paths "
                    "pointing at local files"
                )
            pipeline = _load(Pipeline, str(config), model)
        else:
            token = os.environ.get("HF_TOKEN")
            if not token:
                raise ModelError(
                    f"the pyannote backend downloads '{model}' from the Hugging Face hub and "
                    "needs a token: accept the model's conditions on its hub page and set "
                    "HF_TOKEN, or set stages.diarize.pyannote_model to a local folder holding "
                    "config.yaml (offline), or use backend 'resemblyzer'"
                )
            keyword = (
                "token"
                if "token" in inspect.signature(Pipeline.from_pretrained).parameters
                else "use_auth_token"
            )
            pipeline = _load(Pipeline, model, model, **{keyword: token})
        if device is not None:
            import torch

            pipeline.to(torch.device(device))
        self._pipeline = pipeline

    def timeline(
        self,
        audio: Audio,
        channel: int | None,
        *,
        num_speakers: int | None,
        min_speakers: int,
        max_speakers: int,
    ) -> list[Span]:
        """Speaker turns of the whole recording (one channel, or the downmix) as a timeline."""
        import torch

        samples = audio.read(0.0, audio.duration, channel=channel)
        waveform = torch.from_numpy(np.ascontiguousarray(samples))[None]
        counts: dict[str, int] = (
            {"num_speakers": num_speakers}
            if num_speakers is not None
            else {"min_speakers": min_speakers, "max_speakers": max_speakers}
        )
        output: Any = self._pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE}, **counts)
        annotation = getattr(output, "speaker_diarization", output)  # pyannote 4 wraps it
        labels: dict[str, int] = {}
        spans: list[Span] = []
        for turn, _, label in sorted(
            annotation.itertracks(yield_label=True), key=lambda t: t[0].start
        ):
            index = labels.setdefault(label, len(labels))
            spans.append((round(turn.start, 3), round(turn.end, 3), index))
        return spans


def _load(pipeline_class: Any, checkpoint: str, model: str, **options: Any) -> Any:
    """``Pipeline.from_pretrained`` with its failures (offline, gated, bad files) explained."""
    try:
        pipeline = pipeline_class.from_pretrained(checkpoint, **options)
    except Exception as e:
        raise ModelError(
            f"cannot load the pyannote pipeline '{model}': {e}. Offline, set "
            "stages.diarize.pyannote_model to a local folder holding its config.yaml; online, "
            "check HF_TOKEN and that the model's conditions are accepted on its hub page"
        ) from e
    if pipeline is None:  # pyannote 3 returns None for a gated model it may not download
        raise ModelError(
            f"the hub refused '{model}': accept the model's conditions on its hub page with the "
            "account of HF_TOKEN"
        )
    return pipeline
