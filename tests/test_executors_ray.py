"""The Ray executor on a real local Ray cluster, with the demonstration model on espeak speech.

One cluster serves the module (starting one costs seconds). Pool actors are found through Ray's
state API: Ray Data's actors have no handles.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asr_pipeline.cli import app
from asr_pipeline.cli.batch import make_writers
from asr_pipeline.config import resolve_config
from asr_pipeline.executors import Item, Job, Outcome, by_duration, run_job
from asr_pipeline.executors.progress import BatchProgress

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")
pytest.importorskip("torch")
pytest.importorskip("transformers")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is not installed (apt install espeak-ng)", allow_module_level=True)

from asr_pipeline.executors.ray import RayExecutor  # noqa: E402

MODEL = Path(__file__).resolve().parent / "fixtures" / "espeak-ru-tiny"
SENTENCES = (MODEL / "heldout_sentences.txt").read_text(encoding="utf-8").splitlines()
ARGS = ("-f", "json,txt,srt", "--stages", "vad,ctc", "--model", str(MODEL), "--device", "cpu")
needs_proc = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="finds open files through /proc (Linux)"
)
CONFIG = {"pipeline": ["vad", "ctc"], "device": "cpu", "stages": {"ctc": {"model": str(MODEL)}}}


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def speak(path: Path, sentences: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["espeak-ng", "-v", "ru", "-w", str(path), " ".join(sentences)], check=True)
    return path


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three spoken files of different lengths and a corrupt one."""
    folder = tmp_path_factory.mktemp("short")
    speak(folder / "one.wav", SENTENCES[2:3])
    speak(folder / "two.wav", SENTENCES[3:5])
    speak(folder / "three.wav", SENTENCES[5:6])
    (folder / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt this is not audio")
    return folder


@pytest.fixture(scope="module")
def long(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A long file (about 50 s, recognised in seconds) and two short ones."""
    folder = tmp_path_factory.mktemp("long")
    return [
        speak(folder / "long.wav", SENTENCES[10:18]),
        speak(folder / "a.wav", SENTENCES[30:31]),
        speak(folder / "b.wav", SENTENCES[31:32]),
    ]


def transcribe(inputs: Sequence[Path], out: Path, *options: str):
    return CliRunner().invoke(
        app, ["transcribe", *map(str, inputs), "-o", str(out), *ARGS, *options]
    )


def without_creation_time(text: str) -> str:
    changed, count = re.subn(r'"created": "[^"]*"', '"created": ""', text)
    assert count == 1
    return changed


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_ray_writes_what_local_writes_and_a_corrupt_file_fails_alone(
    short: Path, tmp_path: Path
) -> None:
    local = transcribe([short], tmp_path / "local")
    on_ray = transcribe([short], tmp_path / "ray", "--executor", "ray", "--workers", "2")
    assert local.exit_code == on_ray.exit_code == 1, on_ray.output
    for run, out in ((local, "local"), (on_ray, "ray")):
        summary = run.stderr.splitlines()[-2:]
        assert summary[0] == f"transcribed 3 into {tmp_path / out}, failed 1"
        assert summary[1].startswith(f"  {short / 'broken.wav'}: cannot open as audio")

    names = sorted(p.name for p in (tmp_path / "local").iterdir() if not p.name.startswith("_"))
    assert names == sorted(f"{s}.{e}" for s in ("one", "two", "three") for e in ARGS[1].split(","))
    for name in names:
        expected = (tmp_path / "local" / name).read_bytes()
        written = (tmp_path / "ray" / name).read_bytes()
        if name.endswith(".json"):
            expected, written = (without_creation_time(b.decode()) for b in (expected, written))
        assert written == expected, name
    assert len((tmp_path / "ray" / "two.txt").read_text(encoding="utf-8").split()) > 20

    failures = lines(tmp_path / "ray" / "_failures.jsonl")
    assert failures == lines(tmp_path / "local" / "_failures.jsonl")
    assert [(f["path"], f["stage"]) for f in failures] == [(str(short / "broken.wav"), "read")]
    (run,) = lines(tmp_path / "ray" / "_runs.jsonl")
    (local_run,) = lines(tmp_path / "local" / "_runs.jsonl")
    assert (run["executor"], run["workers"], run["done"], run["failed"]) == ("ray", 2, 3, 1)
    assert run["config_hash"] == local_run["config_hash"]
    assert run["audio_hours"] == pytest.approx(local_run["audio_hours"])
    assert run["throughput"] == pytest.approx(run["audio_hours"] / (run["wall_s"] / 3600), 0.01)


def reading(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (Linux)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd) == str(path.resolve()):
                return True
        except OSError:  # closed meanwhile
            pass
    return False


def kill_while_reading(found: dict, audio: Path, stop: threading.Event) -> None:
    """Kill the OS process of the pool's actor while it reads ``audio``, i.e. mid-file.

    The actor is found through Ray's state API (Ray Data's pool actors have no handles).
    """
    from ray.util.state import list_actors

    pid = None
    while pid is None and not stop.is_set():
        actors = [
            a
            for a in list_actors(filters=[("state", "!=", "DEAD")])
            if a.class_name.startswith("MapWorker") and a.pid
        ]
        pid = actors[0].pid if actors else time.sleep(0.1)
    while pid is not None and not stop.is_set():
        if reading(pid, audio):
            found["done_before"] = sorted(p.name for p in found["out"].glob("*.txt"))
            os.kill(pid, signal.SIGKILL)
            found["killed"] = pid
            return
        time.sleep(0.01)


def run_and_kill(files: list[Path], out: Path, retries: int) -> tuple[dict, list[Outcome]]:
    job = Job(make_writers("txt"), out, config=resolve_config(CONFIG))
    found: dict = {"out": out}
    stop = threading.Event()
    killer = threading.Thread(target=kill_while_reading, args=(found, files[0], stop))
    killer.start()
    try:
        result = run_job(RayExecutor(workers=1, retries=retries), job, by_duration(files))
    finally:
        stop.set()
        killer.join()
    assert found.get("killed") and found["done_before"] == []  # killed on the long file
    return found, result.outcomes


@needs_proc
def test_a_missing_model_folder_is_refused_before_ray_starts(short: Path, tmp_path: Path) -> None:
    ray.shutdown()  # the command starts its own cluster, or would
    try:
        result = CliRunner().invoke(
            app,
            ["transcribe", str(short / "one.wav"), "-o", str(tmp_path), "--stages", "vad,ctc"]
            + ["--model", str(tmp_path / "no-such-model"), "--executor", "ray"],
        )
        assert result.exit_code == 2, result.output
        assert "stages.ctc.model: no model folder at" in result.output
        assert not ray.is_initialized()
    finally:
        ray.init(num_cpus=2, log_to_driver=False, logging_level="ERROR")


def test_a_killed_worker_has_its_file_finished_by_a_new_one(
    long: list[Path], tmp_path: Path
) -> None:
    assert by_duration(long)[0].path == long[0]  # the long file goes first
    found, outcomes = run_and_kill(long, tmp_path, retries=2)
    assert sorted(o.path for o in outcomes) == sorted(long)
    assert all(o.ok for o in outcomes)
    assert len((tmp_path / "long.txt").read_text(encoding="utf-8").split()) > 60


@needs_proc
def test_a_file_whose_worker_dies_past_the_retries_is_recorded_as_failed(
    long: list[Path], tmp_path: Path
) -> None:
    found, outcomes = run_and_kill(long, tmp_path, retries=0)
    failed = [o for o in outcomes if not o.ok]
    assert [(o.path, o.stage) for o in failed] == [(long[0], "worker")]
    assert "worker process died" in failed[0].message and str(long[0]) in failed[0].message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


class StopAfterFirst:
    """The driver interrupted (Ctrl-C) as the first file is reported."""

    def __init__(self, inner: RayExecutor) -> None:
        self.inner = inner
        self.name, self.workers = inner.name, inner.workers

    def map(self, job: Job, items: Sequence[Item], progress: BatchProgress) -> Iterator[Outcome]:
        for outcome in self.inner.map(job, items, progress):
            yield outcome
            raise KeyboardInterrupt


def test_an_interrupted_run_resumes_where_it_stopped(short: Path, tmp_path: Path) -> None:
    files = [short / f"{name}.wav" for name in ("one", "two", "three")]
    config = resolve_config(CONFIG)
    job = Job(make_writers("txt,json,srt"), tmp_path, config=config)
    with pytest.raises(KeyboardInterrupt):
        run_job(StopAfterFirst(RayExecutor(workers=1)), job, by_duration(files), record=True)
    (interrupted,) = lines(tmp_path / "_runs.jsonl")
    assert interrupted["interrupted"] and interrupted["done"] == 1
    finished = {p.stem for p in tmp_path.glob("*.txt")}
    assert "two" in finished  # the longest went first
    stamps = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}

    result = transcribe(files, tmp_path, "--executor", "ray", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert f"skipped {len(finished)} (outputs exist" in result.stderr
    assert {p.stem for p in tmp_path.glob("*.txt")} == {"one", "two", "three"}
    for name in (f"{stem}.{ext}" for stem in finished for ext in ("txt", "json", "srt")):
        assert tmp_path.joinpath(name).stat().st_mtime_ns == stamps[name]  # not redone
    runs = lines(tmp_path / "_runs.jsonl")
    assert [(r["done"], r["skipped"], r["interrupted"]) for r in runs[1:]] == [
        (3 - len(finished), len(finished), False)
    ]


def test_eval_on_ray_scores_what_local_scores(short: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.tsv"
    rows = [
        ("one.wav", SENTENCES[2], "", ""),
        ("two.wav", " ".join(SENTENCES[3:5]), "", ""),
        ("two.wav", SENTENCES[3], "0", "1.5"),  # a span of a file, as import-annotations writes
    ]
    manifest.write_text(
        "audio\ttext\toffset\tduration\n"
        + "".join(f"{short / a}\t{t}\t{o}\t{d}\n" for a, t, o, d in rows),
        encoding="utf-8",
    )
    reports = {}
    for name, options in (("local", ()), ("ray", ("--executor", "ray", "--workers", "2"))):
        report = tmp_path / f"{name}.json"
        arguments = ["eval", str(manifest), "-o", str(report), *ARGS[2:], *options]
        result = CliRunner().invoke(app, arguments)
        assert result.exit_code == 0, result.output
        reports[name] = report.with_suffix(".hyp.jsonl").read_text(encoding="utf-8")
    assert reports["ray"] == reports["local"]
    assert len(reports["ray"].splitlines()) == 3


def test_annotate_on_ray_cuts_what_local_cuts(short: Path, tmp_path: Path) -> None:
    sources = [str(short / "one.wav"), str(short / "two.wav")]
    found = {}
    for name, options in (("local", ()), ("ray", ("--executor", "ray", "--workers", "2"))):
        dataset = tmp_path / name
        arguments = ["annotate", *sources, "-o", str(dataset), *ARGS[2:], *options]
        result = CliRunner().invoke(app, arguments)
        assert result.exit_code == 0, result.output
        clips = sorted(path.name for path in (dataset / "audio").iterdir())
        found[name] = (clips, (dataset / "manifest.jsonl").read_text(encoding="utf-8"))
    assert found["ray"] == found["local"]
    assert found["ray"][0], "no clips were cut"
