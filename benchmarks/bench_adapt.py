"""Adapting the demonstration model to a voice it never heard: fine-tuning, then a language model.

The demonstration model ``tests/fixtures/espeak-ru-tiny`` was trained on espeak-ng's Russian
voices at 140-190 words/min. Here it meets another variant at another speed (default
``ru+Demonic`` at 200 words/min). Data, synthesised once into ``--work``:

- train: about ``--train-minutes`` (10) of that voice speaking pieces of the text corpus
  (``--text``: the sentences the demonstration model's text came from, minus its held-out ones);
- dev: the first ``--dev`` (40) held-out sentences of the model (``heldout_sentences.txt``);
- test: the remaining held-out sentences: text neither the model, the fine-tuning nor the
  language model ever saw.

Then ``asr-pipeline finetune train.tsv --eval dev.tsv --max-minutes 10`` (every other option at
its default) and ``asr-pipeline lm build`` on the corpus (in-domain text without the held-out
sentences). CER on the test set is measured by ``eval``'s own scoring: greedy before, greedy
after fine-tuning, and beam search with the new LM after fine-tuning.

    python benchmarks/bench_adapt.py
    python benchmarks/bench_adapt.py --voice ru+whisper --speed 170 --max-minutes 5

The last line is for scripts::

    cer_before=X cer_finetuned=X cer_finetuned_lm=X train_s=X
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MODEL = REPO / "tests" / "fixtures" / "espeak-ru-tiny"
TEXT = REPO.parent / "shared" / "data" / "ru_text" / "dev.txt"
WORD = re.compile(r"[а-яё]+(?:-[а-яё]+)*")


def say(text: str, voice: str, speed: int, path: Path) -> float:
    """Speak ``text`` into a 16 kHz FLAC; its duration in seconds."""
    import soundfile as sf

    from asr_pipeline.audio import resample

    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    data, rate = sf.read(io.BytesIO(wav), dtype="float32")
    data = resample(data, rate)
    sf.write(path, data, 16_000)
    return len(data) / 16_000


def write_set(folder: Path, texts: list[str], voice: str, speed: int) -> float:
    """``folder/manifest.tsv`` and one FLAC per text; total seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"{i:04d}.flac" for i in range(len(texts))]
    with ThreadPoolExecutor(2) as pool:
        seconds = list(pool.map(lambda n, t: say(t, voice, speed, folder / n), names, texts))
    rows = ["audio\ttext", *(f"{n}\t{t}" for n, t in zip(names, texts, strict=True))]
    (folder / "manifest.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return sum(seconds)


def corpus(text: Path, heldout: set[str]) -> list[str]:
    """Lower-case sentences of the text corpus without digits or Latin, minus held-out ones."""
    sentences = []
    for line in text.read_text(encoding="utf-8").splitlines():
        if re.search(r"[0-9a-zA-Z]", line):
            continue
        words = WORD.findall(line.lower().replace("ё", "е"))
        sentence = " ".join(words)
        if len(words) >= 2 and sentence not in heldout:
            sentences.append(sentence)
    return list(dict.fromkeys(sentences))


def pieces(sentences: list[str], rng: random.Random) -> list[str]:
    """Sentences cut into pieces of 3-12 words, shuffled."""
    out = []
    for sentence in sentences:
        words = sentence.split()
        while words:
            size = rng.randint(3, 12)
            out.append(" ".join(words[:size]))
            words = words[size:]
    rng.shuffle(out)
    return out


def prepare(args: argparse.Namespace) -> tuple[Path, Path, Path, Path]:
    """The train/dev/test manifests and the LM corpus (made once per voice and speed)."""
    work = Path(args.work) / f"{args.voice.replace('+', '_')}-{args.speed}"
    heldout = (MODEL / "heldout_sentences.txt").read_text(encoding="utf-8").splitlines()
    heldout = [h for h in heldout if h.strip()]
    done = work / "ready"
    if not done.exists():
        if not args.text.is_file():
            sys.exit(f"no text corpus at {args.text}: give --text")
        sentences = corpus(args.text, set(heldout))
        (work / "corpus.txt").parent.mkdir(parents=True, exist_ok=True)
        (work / "corpus.txt").write_text("\n".join(sentences) + "\n", encoding="utf-8")
        train_texts = pieces(sentences, random.Random(args.seed))
        # About 2.8 s per piece at this speed; trimmed to the minutes asked for below.
        budget = args.train_minutes * 60
        chosen, seconds = [], 0.0
        batch = 40
        while seconds < budget and train_texts:
            part, train_texts = train_texts[:batch], train_texts[batch:]
            chosen += part
            seconds = write_set(work / "train", chosen, args.voice, args.speed)
        write_set(work / "dev", heldout[: args.dev], args.voice, args.speed)
        write_set(work / "test", heldout[args.dev :], args.voice, args.speed)
        done.write_text(f"{seconds:.1f}\n", encoding="utf-8")
    return (
        work / "train" / "manifest.tsv",
        work / "dev" / "manifest.tsv",
        work / "test" / "manifest.tsv",
        work / "corpus.txt",
    )


def cer(manifest: Path, model: Path, lm: Path | None = None) -> float:
    """Test-set CER through the pipeline's ``ctc`` stage and ``eval``'s scoring."""
    from asr_pipeline.cli.options import pipeline_config
    from asr_pipeline.evaluate import evaluate
    from asr_pipeline.pipeline import Pipeline

    settings = [f"stages.ctc.decoder={'beam' if lm else 'greedy'}"]
    if lm is not None:
        settings.append(f"stages.ctc.lm={lm}")
    config = pipeline_config(set_=settings, stages="ctc", model=str(model), device="cpu")
    return evaluate(manifest, Pipeline(config)).cer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voice", default="ru+Demonic")
    parser.add_argument("--speed", type=int, default=200)
    parser.add_argument("--train-minutes", type=float, default=10.0)
    parser.add_argument("--dev", type=int, default=40, help="held-out sentences for dev")
    parser.add_argument("--max-minutes", type=float, default=10.0, help="training budget")
    parser.add_argument("--text", type=Path, default=TEXT)
    parser.add_argument("--work", default="/tmp/bench-adapt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        help="extra finetune option (--option=--lr=1e-3)",
    )
    args = parser.parse_args()
    train, dev, test, text = prepare(args)
    out = Path(args.work) / "model"
    shutil.rmtree(out, ignore_errors=True)
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    cer_before = cer(test, MODEL)
    print(f"test CER before: {cer_before:.3f}", flush=True)
    command = [
        sys.executable, "-m", "asr_pipeline", "finetune", str(train), "--eval", str(dev),
        "--model", str(MODEL), "-o", str(out), "--max-minutes", str(args.max_minutes),
        *args.option,
    ]  # fmt: skip
    print("$ " + " ".join(command[2:]), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True)
    run = json.loads((out / "finetune.json").read_text(encoding="utf-8"))
    train_s = run["train_s"]
    print(
        f"finetune: {run['steps']} steps, training {train_s:.0f} s of "
        f"{time.perf_counter() - started:.0f} s in all (model loading, data check)"
    )
    cer_finetuned = cer(test, out)
    print(f"test CER after fine-tuning: {cer_finetuned:.3f}", flush=True)
    lm = out / "language_model"
    lm_command = [
        sys.executable, "-m", "asr_pipeline", "lm", "build", str(text), "-o", str(lm),
        "--model", str(out), "--tune", str(dev), "--verbose",
    ]  # fmt: skip
    print("$ " + " ".join(lm_command[2:]), flush=True)
    subprocess.run(lm_command, check=True)
    cer_lm = cer(test, out, lm)
    reduction = 1 - cer_finetuned / cer_before
    print(f"test CER with the LM: {cer_lm:.3f}; fine-tuning alone: {reduction:.0%} lower CER")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(
        f"cer_before={cer_before:.4f} cer_finetuned={cer_finetuned:.4f} "
        f"cer_finetuned_lm={cer_lm:.4f} train_s={train_s:.1f}"
    )


if __name__ == "__main__":
    main()
