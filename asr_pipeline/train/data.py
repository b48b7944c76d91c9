"""Training samples from manifests: the clip of audio each line names and its target text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..evaluate.manifest import Entry

if TYPE_CHECKING:
    from ..ctc.decode import CtcVocabulary

__all__ = ["Sample", "greedy_texts", "log_probs_of", "read_wave"]


@dataclass(frozen=True)
class Sample:
    """One manifest line checked for training: its clip and the text the model should write."""

    entry: Entry
    target: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def read_wave(sample: Sample) -> np.ndarray:
    """The sample's clip as 16 kHz mono float32."""
    from ..audio import probe, stream

    audio = probe(sample.entry.path)
    blocks = [b for _, b in stream(audio, 30.0, start=sample.start, end=sample.end)]
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)


def log_probs_of(model: Any, feature_extractor: Any, waves: list[np.ndarray]) -> list[np.ndarray]:
    """Per-frame log-probabilities of each wave (one at a time: no padding effects)."""
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.inference_mode():
            for wave in waves:
                inputs = feature_extractor(wave, sampling_rate=16_000, return_tensors="pt")
                logits = model(inputs.input_values.to(device)).logits[0].float()
                out.append(torch.log_softmax(logits, -1).cpu().numpy())
    finally:
        model.train(was_training)
    return out


def greedy_texts(log_probs: list[np.ndarray], vocabulary: CtcVocabulary) -> list[str]:
    """Best-path texts through the ``ctc`` stage's own greedy decoder."""
    from ..ctc.decode import GreedyDecoder

    decoder = GreedyDecoder(vocabulary)
    return [" ".join(w.text for w in decoder.decode(lp, 0.0, 0.02)) for lp in log_probs]
