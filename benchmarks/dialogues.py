"""Synthetic dialogues from espeak-ng voices, with their reference RTTM.

Each speaker is an espeak-ng voice variant with its own pitch and speed, as different as espeak
allows. Turns alternate between speakers (2-10 s, with some quick exchanges under 1 s), separated
by pauses of 0.2-1 s. The reference turns are the spans where each synthesised clip is audible,
so the RTTM describes the audio exactly. Shared by the diarization tests and
``benchmarks/bench_diarize.py``.
"""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
TEXT = REPO / "tests" / "data" / "ru_text_sample.txt"
SAMPLE_RATE = 16_000
QUICK_REPLIES = ("да", "нет", "ага", "конечно", "понятно", "хорошо", "верно", "ну да")


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice: variant, pitch (0-99) and speed (words per minute)."""

    name: str
    pitch: int
    speed: int


VOICES = (
    Voice("ru+klatt", 40, 120),
    Voice("ru+f4", 85, 185),
    Voice("ru+m7", 60, 160),
)
"""Speakers in the order dialogues use them: the three voices farthest apart for Resemblyzer's
GE2E encoder among espeak-ng's Russian variants tried (mean cosine similarity 0.52-0.65 between
them, 0.9 within one)."""


@dataclass(frozen=True)
class Turn:
    """One reference speaker turn, in seconds."""

    speaker: str
    start: float
    end: float


@dataclass(frozen=True)
class Dialogue:
    """16 kHz mono samples and the reference turns."""

    samples: np.ndarray
    turns: tuple[Turn, ...]

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    @property
    def speakers(self) -> list[str]:
        return list(dict.fromkeys(t.speaker for t in self.turns))

    def rttm(self, file_id: str) -> str:
        """The reference as NIST RTTM, one SPEAKER line per turn."""
        from asr_pipeline.writers.rttm import rttm_field

        return "".join(
            f"SPEAKER {rttm_field(file_id)} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> "
            f"{t.speaker} <NA> <NA>\n"
            for t in self.turns
        )


def sentences() -> list[str]:
    """Plain Russian sentences (the casing tests' sample of Universal Dependencies)."""
    lines = TEXT.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def speak(text: str, voice: Voice) -> np.ndarray:
    """16 kHz float32 speech of ``text``, trimmed to where it is audible."""
    import io

    import soundfile as sf

    from asr_pipeline.audio import resample

    wav = subprocess.run(
        ["espeak-ng", "-v", voice.name, "-p", str(voice.pitch), "-s", str(voice.speed)]
        + ["--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    samples = resample(samples, rate) if rate != SAMPLE_RATE else samples
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples[:0]


def dialogue(
    speakers: int = 2, seconds: float = 30.0, seed: int = 0, quick: float = 0.15
) -> Dialogue:
    """A dialogue of about ``seconds`` between ``speakers`` voices taking turns.

    ``quick`` is the share of turns that are a quick reply under a second.
    """
    rng = random.Random(seed)
    texts = sentences()
    voices = VOICES[:speakers]
    parts: list[np.ndarray] = []
    turns: list[Turn] = []
    time = 0.0
    speaker = rng.randrange(speakers)
    while time < seconds:
        voice = voices[speaker]
        if rng.random() < quick:
            clip = speak(rng.choice(QUICK_REPLIES), voice)
        else:
            clip = _turn(rng, texts, voice, rng.uniform(2.0, 10.0))
        pause = rng.uniform(0.2, 1.0) if parts else 0.3
        parts.append(np.zeros(round(pause * SAMPLE_RATE), dtype=np.float32))
        time += pause
        parts.append(clip)
        turns.append(
            Turn(f"speaker{speaker + 1}", round(time, 3), round(time + len(clip) / SAMPLE_RATE, 3))
        )
        time += len(clip) / SAMPLE_RATE
        speaker = (speaker + rng.randrange(1, speakers)) % speakers
    parts.append(np.zeros(round(0.3 * SAMPLE_RATE), dtype=np.float32))
    return Dialogue(np.concatenate(parts), tuple(turns))


def _turn(rng: random.Random, texts: list[str], voice: Voice, target: float) -> np.ndarray:
    """Speech of one voice lasting about ``target`` seconds (2-10 s): words of a sentence."""
    words = rng.choice(texts).split()
    count = max(3, round(target * voice.speed / 60))
    while len(words) < count:
        words += rng.choice(texts).split()
    clip = speak(" ".join(words[:count]), voice)
    limit = round(10.0 * SAMPLE_RATE)
    return clip[:limit] if len(clip) > limit else clip


def write(dialogue_: Dialogue, folder: Path, name: str) -> tuple[Path, Path]:
    """Write ``name.wav`` and ``name.rttm`` into ``folder``; return both paths."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    wav, rttm = folder / f"{name}.wav", folder / f"{name}.rttm"
    sf.write(wav, dialogue_.samples, SAMPLE_RATE, subtype="PCM_16")
    rttm.write_text(dialogue_.rttm(name), encoding="utf-8")
    return wav, rttm
