"""Fine-tuning and language-model building, on tiny random models (mechanics, not quality).

The quality check on real speech (the demonstration model adapting to an unheard espeak-ng
voice) is ``benchmarks/bench_adapt.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from asr_pipeline.cli import app
from tests.tiny_model import save_tiny_model

pytest.importorskip("transformers")
pytest.importorskip("accelerate")

runner = CliRunner()
TEXTS = ["привет мир", "добрый день", "как дела", "до свидания", "спасибо большое", "всё хорошо"]


def tone(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16_000)) / 16_000
    return (0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + rng.normal(0, 0.05, t.size)).astype(
        np.float32
    )


def manifest(folder: Path, name: str, rows: list[tuple[str, str]]) -> Path:
    path = folder / name
    path.write_text("audio\ttext\n" + "".join(f"{a}\t{t}\n" for a, t in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six 1.5 s clips, ``train.tsv`` (all) and ``dev.tsv`` (two)."""
    folder = tmp_path_factory.mktemp("speech")
    for i in range(len(TEXTS)):
        sf.write(folder / f"{i}.wav", tone(1.5, i), 16_000)
    rows = [(f"{i}.wav", text) for i, text in enumerate(TEXTS)]
    manifest(folder, "train.tsv", rows)
    manifest(folder, "dev.tsv", rows[:2])
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def run_finetune(*args: str) -> object:
    return runner.invoke(app, ["finetune", *args])


# ---------------------------------------------------------------- the check


def test_check_lists_every_problem_with_line_numbers(data: Path, tiny: Path, tmp_path: Path):
    for i in range(2, 6):
        sf.write(tmp_path / f"ok{i}.wav", tone(1.5, i), 16_000)
    sf.write(tmp_path / "short.wav", tone(0.1, 1), 16_000)
    sf.write(tmp_path / "long.wav", np.zeros(16_000 * 31, dtype=np.float32), 16_000)
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16_000)
    (tmp_path / "broken.wav").write_bytes(b"not audio at all" * 20)
    train = manifest(
        tmp_path,
        "train.tsv",
        [
            ("ok2.wav", "Привет, мир!"),  # line 2: fine once normalised
            ("ok3.wav", "цена 12 рублей"),  # 3: digits
            ("ok4.wav", "а + б +"),  # 4: "+" twice
            ("ok5.wav", "+ снова"),  # 5: "+" again
            ("short.wav", "слишком короткий"),  # 6
            ("long.wav", "слишком длинный"),  # 7
            ("empty.wav", "пусто"),  # 8
            ("broken.wav", "сломан"),  # 9
            ("missing.wav", "нет файла"),  # 10
        ],
    )
    result = run_finetune(str(train), "--check", "--model", str(tiny))
    assert result.exit_code == 2, result.output
    out = result.output
    assert "digits on line 3" in out
    assert "'+' (3 times) on lines 4, 5" in out
    assert "line 6: too short" in out
    assert "line 7: too long: 31.0 s" in out
    assert "line 8: empty audio" in out or "line 8: " in out and "empty.wav" in out
    assert "line 9: " in out and "broken.wav" in out
    assert "line 10: audio file not found" in out
    assert "line 2" not in out
    # without --check the same data stops before any training step
    result = run_finetune(str(train), "--model", str(tiny), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "nothing was trained" in result.output
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_check_passes_clean_data_and_reports_hours(data: Path, tiny: Path):
    result = run_finetune(str(data / "train.tsv"), "--check", "--model", str(tiny))
    assert result.exit_code == 0, result.output
    assert "6 clips, 0.00 h (1.5-1.5 s)" in result.output
    assert "ready for training" in result.output


def test_nemo_clips_of_a_longer_file(tiny: Path, tmp_path: Path):
    from transformers import AutoTokenizer

    from asr_pipeline.train.check import check_data
    from asr_pipeline.train.text import Alphabet

    sf.write(tmp_path / "long.wav", tone(4.0, 0), 16_000)
    lines = [  # NeMo's keys: two clips of one file, the second running past its end
        {"audio_filepath": "long.wav", "text": "привет", "offset": 0.5, "duration": 1.0},
        {"audio_filepath": "long.wav", "text": "мир", "offset": 3.5, "duration": 1.0},
    ]
    path = tmp_path / "clips.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    found = check_data(path, Alphabet.of_tokenizer(AutoTokenizer.from_pretrained(tiny)))
    assert [(s.start, s.end) for s in found.samples] == [(0.5, 1.5)]
    assert (
        len(found.errors) == 1 and "line 2" in found.errors[0] and "ends after" in found.errors[0]
    )


# ---------------------------------------------------------------- training


def test_finetune_resume_and_output_folder(data: Path, tiny: Path, tmp_path: Path):
    out = tmp_path / "out"
    common = ["--eval", str(data / "dev.tsv"), "--model", str(tiny), "-o", str(out)]
    first = run_finetune(str(data / "train.tsv"), *common, "--steps", "2", "--eval-every", "1")
    assert first.exit_code == 0, first.output
    state = json.loads((out / "finetune.json").read_text(encoding="utf-8"))
    assert state["steps"] == 2 and [h["step"] for h in state["history"]] == [1, 2]
    assert state["before"] is not None and state["best"]["cer"] <= state["history"][0]["cer"]
    again = run_finetune(str(data / "train.tsv"), *common, "--steps", "2")
    assert again.exit_code == 2 and "--resume" in again.output
    resumed = run_finetune(
        str(data / "train.tsv"), *common, "--steps", "4", "--eval-every", "1", "--resume"
    )
    assert resumed.exit_code == 0, resumed.output
    state = json.loads((out / "finetune.json").read_text(encoding="utf-8"))
    assert [h["step"] for h in state["history"]] == [1, 2, 3, 4]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert str(tiny) in card and "| before |" in card
    # the output is a model folder the ctc stage loads, with the base vocabulary and head
    from asr_pipeline.ctc.model import load_model

    loaded = load_model(str(out))
    assert loaded.model.lm_head.out_features == 40
    assert loaded.tokenizer.get_vocab() == json.loads((tiny / "vocab.json").read_text("utf-8"))
    # ... and the ONNX backend exports it: same log-probabilities as torch
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import torch

    from asr_pipeline.ctc.onnx_export import export_log_probs

    export_log_probs(loaded.model.eval(), tmp_path / "model.onnx", attention_mask=True)
    wave = tone(1.0, 3)[None]
    session = ort.InferenceSession(str(tmp_path / "model.onnx"))
    feeds = {"input_values": wave, "attention_mask": np.ones_like(wave, dtype=np.int64)}
    got = session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0]
    with torch.no_grad():
        want = torch.log_softmax(loaded.model(torch.from_numpy(wave)).logits, -1).numpy()
    assert np.allclose(got, want, atol=1e-3)


def test_new_letters_extend_the_head(data: Path, tiny: Path, tmp_path: Path):
    sf.write(tmp_path / "a.wav", tone(1.5, 0), 16_000)
    train = manifest(tmp_path, "train.tsv", [("a.wav", "straße ß")])
    result = run_finetune(
        str(train), "--model", str(tiny), "-o", str(tmp_path / "out"), "--steps", "1"
    )
    assert result.exit_code == 0, result.output
    assert "the CTC head is extended with 'aerstß'" in result.output
    from asr_pipeline.ctc.model import load_model

    base = load_model(str(tiny))
    tuned = load_model(str(tmp_path / "out"))
    vocab = tuned.tokenizer.get_vocab()
    assert vocab["ß"] >= 40 and tuned.model.lm_head.out_features == len(vocab)
    assert tuned.tokenizer("ß").input_ids == [vocab["ß"]]
    # the rows of the known characters started from the base model's head
    old = base.model.lm_head.weight.detach()
    new = tuned.model.lm_head.weight.detach()[:40]
    assert float((old - new).abs().max()) < 0.05


def test_blank_collapse_alarm(data: Path, tmp_path: Path):
    import torch
    from transformers import Wav2Vec2ForCTC

    folder = save_tiny_model(tmp_path / "blank")
    model = Wav2Vec2ForCTC.from_pretrained(folder)
    with torch.no_grad():
        model.lm_head.bias[0] = 100.0  # the blank (pad) wins every frame
    model.save_pretrained(folder)
    common = ["--eval", str(data / "dev.tsv"), "--model", str(folder), "--lr", "1e-7"]
    early = run_finetune(
        str(data / "train.tsv"), *common, "-o", str(tmp_path / "a"), "--steps", "1",
        "--warmup", "5", "--eval-every", "1",
    )  # fmt: skip
    assert early.exit_code == 0, early.output
    assert "blank collapse" not in early.output  # still warming up
    late = run_finetune(
        str(data / "train.tsv"), *common, "-o", str(tmp_path / "b"), "--steps", "2",
        "--warmup", "1", "--eval-every", "1",
    )  # fmt: skip
    assert late.exit_code == 0, late.output
    assert "blank collapse: 100% of dev predictions are empty at step 2" in late.output
    assert "blank collapse" in (tmp_path / "b" / "README.md").read_text(encoding="utf-8")


def test_bad_options_exit_2(data: Path, tiny: Path, tmp_path: Path):
    base = [str(data / "train.tsv"), "--model", str(tiny), "-o", str(tmp_path / "o")]
    assert run_finetune(*base, "--steps", "3", "--epochs", "2").exit_code == 2
    assert run_finetune(*base, "--mask-time-prob", "1.5").exit_code == 2
    assert run_finetune(*base, "--freeze-layers", "9").exit_code == 2
    assert run_finetune(*base, "--resume").exit_code == 2
