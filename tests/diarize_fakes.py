"""A speaker embedding model for tests: speakers are pure tones, the embedding is the spectrum.

``tone_speech`` builds audio whose "words" are tone bursts, one frequency per speaker, with the
matching timed words; :class:`ToneEmbedder` turns a window into its band energies, so windows
of one speaker are near-identical and windows of two speakers far apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from asr_pipeline.types import SAMPLE_RATE, Word

TONES = (220.0, 550.0, 1100.0)
"""Hz per speaker."""
BANDS = np.array([100.0, 350.0, 800.0, 1600.0])
"""Band edges around the tones."""


class ToneEmbedder:
    """Band energies of a window, unit length."""

    def __init__(self, *, device: str | None = None) -> None:
        self.device = device
        self.calls = 0

    def embed(self, windows: Sequence[np.ndarray], /) -> np.ndarray:
        self.calls += 1
        rows = []
        for window in windows:
            spectrum = np.abs(np.fft.rfft(window)) ** 2
            freqs = np.fft.rfftfreq(len(window), 1 / SAMPLE_RATE)
            bands = [
                spectrum[(freqs >= a) & (freqs < b)].sum()
                for a, b in zip(BANDS, BANDS[1:], strict=False)
            ]
            vector = np.asarray(bands) + 1e-9
            rows.append(vector / np.linalg.norm(vector))
        return np.array(rows)


def tone_speech(
    turns: Sequence[tuple[int, int]],
    *,
    word_s: float = 0.4,
    gap_s: float = 0.08,
    pause_s: float = 0.5,
    lead_s: float = 0.3,
) -> tuple[np.ndarray, list[Word], list[int]]:
    """Samples, words and each word's speaker for ``turns`` of ``(speaker, word count)``:
    words of ``word_s`` separated by ``gap_s`` inside a turn and ``pause_s`` between turns."""
    t = lead_s
    words: list[Word] = []
    owners: list[int] = []
    for turn, (speaker, count) in enumerate(turns):
        if turn:
            t += pause_s - gap_s
        for _ in range(count):
            words.append(Word(f"w{len(words)}", round(t, 3), round(t + word_s, 3)))
            owners.append(speaker)
            t += word_s + gap_s
    samples = np.zeros(round((t + lead_s) * SAMPLE_RATE), dtype=np.float32)
    for word, speaker in zip(words, owners, strict=True):
        a, b = round(word.start * SAMPLE_RATE), round(word.end * SAMPLE_RATE)
        time = np.arange(b - a) / SAMPLE_RATE
        samples[a:b] = 0.3 * np.sin(2 * np.pi * TONES[speaker] * time)
    return samples, words, owners
