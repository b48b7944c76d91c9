"""Speaker embedding models: one vector per window of speech.

A model is found by name in :data:`asr_pipeline.registry.speaker_embeddings`: ``resemblyzer``
built in, others from plugins (entry-point group ``asr_pipeline.speaker_embeddings``). A plugin
names a factory called with the keyword ``device`` (``None`` for the default) that returns an
object with ``embed(windows) -> array of shape (len(windows), dim)``; windows are 16 kHz float32
samples. Our clustering compares embeddings by cosine distance.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError, MissingDependencyError, ModelError
from ..registry import speaker_embeddings

__all__ = ["ResemblyzerEmbedder", "SpeakerEmbedder", "load_embedder"]


@runtime_checkable
class SpeakerEmbedder(Protocol):
    """Turns windows of 16 kHz speech into speaker vectors, one row per window."""

    def embed(self, windows: Sequence[np.ndarray], /) -> np.ndarray: ...


def load_embedder(name: str, device: str | None = None) -> SpeakerEmbedder:
    """The embedding model registered as ``name``, built for ``device``."""
    factory = speaker_embeddings.get(name, "stages.diarize.backend")
    try:
        model = factory(device=device)
    except (ConfigError, MissingDependencyError, ModelError):
        raise
    except Exception as e:
        raise ModelError(f"the speaker embedding model '{name}' failed to load: {e}") from e
    if not callable(getattr(model, "embed", None)):
        raise ConfigError(
            f"the speaker embedding model '{name}' has no embed(windows) method",
            "stages.diarize.backend",
        )
    return model


class ResemblyzerEmbedder:
    """Resemblyzer's GE2E voice encoder (256-d); its weights ship inside the pip wheel."""

    def __init__(self, *, device: str | None = None) -> None:
        try:
            import torch

            with warnings.catch_warnings():
                # webrtcvad (a resemblyzer dependency) warns that pkg_resources is deprecated.
                warnings.simplefilter("ignore", UserWarning)
                from resemblyzer import VoiceEncoder
                from resemblyzer.audio import normalize_volume, wav_to_mel_spectrogram
        except ImportError as e:
            raise MissingDependencyError(
                "the diarize stage (backend 'resemblyzer')", "diarize", e.name
            ) from e
        self._torch = torch
        self._mel = wav_to_mel_spectrogram
        self._normalize = normalize_volume
        # torch >= 2.6 (the diarize extra's floor) loads the weights with weights_only=True.
        # None (or "auto"): CUDA when there is one, else the CPU.
        self._model: Any = VoiceEncoder(None if device == "auto" else device, verbose=False)
        self._model.eval()

    def embed(self, windows: Sequence[np.ndarray], /) -> np.ndarray:
        """GE2E embeddings (unit length), windows of one length batched together."""
        mels = [self._mel(self._normalize(w, -30, increase_only=True)) for w in windows]
        result = np.zeros((len(mels), 256), dtype=np.float32)
        by_length: dict[int, list[int]] = {}
        for i, mel in enumerate(mels):
            by_length.setdefault(len(mel), []).append(i)
        with self._torch.inference_mode():
            for rows in by_length.values():
                batch = self._torch.from_numpy(np.stack([mels[i] for i in rows]))
                result[rows] = self._model(batch.to(self._model.device)).cpu().numpy()
        return result
