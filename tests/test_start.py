"""The two-command start: the README's first commands, the Makefile and CI agree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def first_block(text: str) -> str:
    return re.search(r"```bash\n(.*?)```", text, re.S).group(1)


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([\w.-]+):", makefile, re.M))


def test_the_readme_starts_with_a_clone_and_two_make_targets() -> None:
    block = first_block(README)
    assert README.index(block) < README.index("## Install")
    commands = re.findall(r"\bmake (\w+)", block)
    assert commands == ["demo", "test"] and "git clone" in block
    assert set(commands) <= make_targets()
    assert "pip install 'asr-pipeline[all]'" not in README  # not on the index


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^exec make test$", ci, re.M)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_plans_torch_first_and_reruns_nothing_once_stamped(tmp_path: Path) -> None:
    venv = tmp_path / "venv"

    def plan(target: str) -> str:
        done = subprocess.run(
            ["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    fresh = plan("test")
    torch = fresh.index("'torch==2.13.0'")
    assert torch < fresh.index("-e '.[dev]'") < fresh.index("-m pytest")
    assert "--no-deps 'pyctcdecode>=0.5'" in fresh and "plugins/asr-pipeline-spacy/" in fresh
    assert "ruff format --check ." in fresh
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    for stamp in ("torch", "demo", "test"):
        (venv / f".stamp-{stamp}").touch()
    assert "pip install" not in plan("test") + plan("demo")
    assert "espeak_ru_sample.flac" in plan("demo")


def test_the_library_example_runs_from_any_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("silero_vad")
    example = re.search(r"```python\n(from pathlib.*?)```", README, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {})
    assert len(capsys.readouterr().out.splitlines()) >= 5
