"""Progress inside files: the recogniser reports audio covered, a batch counts files, hours, ETA."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_ctc_decode import FrameCodeBackend, audio_with, recognizer

from asr_pipeline import Segment, Transcript
from asr_pipeline.cli.batch import run_batch
from asr_pipeline.executors.progress import BatchProgress, audio_duration, format_duration
from asr_pipeline.progress import audio_progress, report_audio
from asr_pipeline.writers import get_writer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_batch_progress_counts_audio_inside_a_file_and_estimates_what_is_left() -> None:
    clock = Clock()
    with BatchProgress(files=2, audio_s=7200.0, enabled=False, clock=clock) as progress:
        assert progress.eta() is None and progress.summary().endswith("ETA -")
        advance = progress.start("long.mp3", 6000.0)
        clock.now = 100.0
        advance(1800.0)  # a quarter of the batch's audio in 100 s: 300 s to go
        assert progress.fraction() == pytest.approx(0.25)
        assert progress.eta() == pytest.approx(300.0)
        assert progress.summary() == "0/2 files · 0:30:00/2:00:00 audio · ETA 0:05:00"
        advance(9999.0)  # never past the file's own duration
        assert progress.audio_done == 6000.0
        progress.finish("long.mp3")
        progress.start("short.wav", 1200.0)
        progress.finish("short.wav", error="short.wav: broken")  # its audio counts as handled
        assert progress.fraction() == 1.0 and progress.eta() == 0.0
        assert progress.summary().startswith("2/2 files (1 failed) · 2:00:00/2:00:00 audio")


def test_batch_progress_without_audio_totals_counts_files() -> None:
    progress = BatchProgress(files=4, enabled=False)
    for name in "ab":
        progress.start(name)
        progress.finish(name)
    assert progress.fraction() == 0.5 and "audio" not in progress.summary()


def test_batch_progress_is_safe_across_threads() -> None:
    progress = BatchProgress(files=4, audio_s=4000.0, enabled=False)

    def work(name: str) -> None:
        advance = progress.start(name, 1000.0)
        for _ in range(500):
            advance(1.0)
        progress.finish(name)

    threads = [threading.Thread(target=work, args=(f"f{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert progress.audio_done == 4000.0 and progress.files_done == 4


def test_audio_progress_belongs_to_the_thread_that_listens() -> None:
    heard: dict[str, list[float]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def run(name: str, seconds: float) -> None:
        with audio_progress(heard[name].append):
            barrier.wait()
            report_audio(seconds)

    threads = [threading.Thread(target=run, args=a) for a in (("a", 1.0), ("b", 2.0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report_audio(5.0)  # nobody listens here
    assert heard == {"a": [1.0], "b": [2.0]}


def test_recogniser_reports_the_source_audio_batch_by_batch() -> None:
    placements = [(1.0, "привет"), (8.0, "мир"), (20.0, "дом"), (33.0, "кот")]
    audio = audio_with(placements, 40.0)
    segments = tuple(Segment(start, start + 3.0) for start, _ in placements)
    transcript = Transcript(segments=segments, duration=40.0, audio=audio)
    heard: list[float] = []
    with audio_progress(heard.append):
        result = recognizer(FrameCodeBackend(), batch_s=3.5)(transcript)
    assert [w.text for w in result.words] == ["привет", "мир", "дом", "кот"]
    assert len(heard) >= 4  # one report per batch at least, not one per file
    assert all(step > 0 for step in heard)
    assert sum(heard) == pytest.approx(40.0)


def test_two_channels_share_the_duration() -> None:
    audio = audio_with([(1.0, "да"), (2.0, "нет")], 10.0, channels=2, channel_of={1: 1})
    segments = (Segment(0.5, 4.0, channel=0), Segment(1.5, 5.0, channel=1))
    transcript = Transcript(segments=segments, duration=10.0, audio=audio)
    heard: list[float] = []
    with audio_progress(heard.append):
        recognizer()(transcript)
    assert sum(heard) == pytest.approx(10.0)


def test_run_batch_draws_files_and_audio(tmp_path: Path) -> None:
    sources = []
    for name, seconds in (("a", 2.0), ("b", 3.0)):
        sources.append(tmp_path / f"{name}.wav")
        sf.write(sources[-1], np.zeros(round(seconds * 16_000), np.float32), 16_000)
    assert audio_duration(sources[1]) == pytest.approx(3.0)
    assert audio_duration(tmp_path / "missing.wav") == 0.0

    heard: list[float] = []

    def process(path: Path) -> Transcript:
        report_audio(1.0)
        heard.append(1.0)
        if path.stem == "b":
            raise ValueError("cannot")
        return Transcript.from_text("да")

    result = run_batch(
        sources,
        process,
        {"txt": get_writer("txt")},
        tmp_path / "out",
        progress=True,
        duration=audio_duration,
    )
    assert result.done == sources[:1] and result.failed[0][0] == sources[1]
    assert heard == [1.0, 1.0]


def test_format_duration() -> None:
    assert format_duration(0) == "0:00:00"
    assert format_duration(7322.4) == "2:02:02"
