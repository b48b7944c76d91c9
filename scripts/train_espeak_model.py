"""Train the demonstration Russian recognizer ``tests/fixtures/espeak-ru-tiny`` on espeak-ng speech.

Stages (``all`` runs them in order):
  synth   text -> held-out split, spoken number lines, espeak-ng voices -> 16 kHz arrays in WORK
  train   a tiny Wav2Vec2ForCTC from scratch with CTC, batches by total length, noise augmentation
  export  greedy CER/WER on held-out sentences (seen and unseen voices), save_pretrained
          (safetensors) with feature extractor and tokenizer, a 3-gram word LM (ARPA) whose
          alpha/beta are tuned on half of the held-out sentences, beam vs greedy on the other
          half, metrics and model card

Example: python scripts/train_espeak_model.py all --steps 3000 --threads 2
Needs espeak-ng and sox on PATH. Generated audio stays in --work-dir (default /tmp).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jiwer
import numpy as np
import torch
from transformers import (
    Wav2Vec2Config,
    Wav2Vec2CTCTokenizer,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
)

if TYPE_CHECKING:
    from asr_pipeline.ctc.decode import CtcVocabulary

ROOT = Path(__file__).resolve().parents[1]
VOCAB_PATH = ROOT / "tests/fixtures/ru_vocab.json"

# ---------------------------------------------------------------------------------------------
# Spoken number expressions (dates, times, years, amounts) in the words the numbers stage reads
# ---------------------------------------------------------------------------------------------

UNITS = ["ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"]
TEENS = [
    "десять",
    "одиннадцать",
    "двенадцать",
    "тринадцать",
    "четырнадцать",
    "пятнадцать",
    "шестнадцать",
    "семнадцать",
    "восемнадцать",
    "девятнадцать",
]
TENS = [
    "",
    "",
    "двадцать",
    "тридцать",
    "сорок",
    "пятьдесят",
    "шестьдесят",
    "семьдесят",
    "восемьдесят",
    "девяносто",
]
HUNDREDS = [
    "",
    "сто",
    "двести",
    "триста",
    "четыреста",
    "пятьсот",
    "шестьсот",
    "семьсот",
    "восемьсот",
    "девятьсот",
]
HOURS_GENITIVE = [
    "",
    "одного",
    "двух",
    "трёх",
    "четырёх",
    "пяти",
    "шести",
    "семи",
    "восьми",
    "девяти",
    "десяти",
    "одиннадцати",
    "двенадцати",
]
# Ordinal stems and their ending class: "ый" (первый), "ой" (второй), "ий" (третий).
ORDINAL_UNITS = [
    None,
    ("перв", "ый"),
    ("втор", "ой"),
    ("трет", "ий"),
    ("четвёрт", "ый"),
    ("пят", "ый"),
    ("шест", "ой"),
    ("седьм", "ой"),
    ("восьм", "ой"),
    ("девят", "ый"),
]
ORDINAL_TEENS = [
    ("десят", "ый"),
    ("одиннадцат", "ый"),
    ("двенадцат", "ый"),
    ("тринадцат", "ый"),
    ("четырнадцат", "ый"),
    ("пятнадцат", "ый"),
    ("шестнадцат", "ый"),
    ("семнадцат", "ый"),
    ("восемнадцат", "ый"),
    ("девятнадцат", "ый"),
]
ORDINAL_TENS = [
    None,
    None,
    ("двадцат", "ый"),
    ("тридцат", "ый"),
    ("сороков", "ой"),
    ("пятидесят", "ый"),
    ("шестидесят", "ый"),
    ("семидесят", "ый"),
    ("восьмидесят", "ый"),
    ("девяност", "ый"),
]
ORDINAL_HUNDREDS = [
    None,
    ("сот", "ый"),
    ("двухсот", "ый"),
    ("трёхсот", "ый"),
    ("четырёхсот", "ый"),
    ("пятисот", "ый"),
    ("шестисот", "ый"),
    ("семисот", "ый"),
    ("восьмисот", "ый"),
    ("девятисот", "ый"),
]
# Case endings per ending class: nominative masculine, genitive, prepositional, neuter, plural,
# genitive plural.
ENDINGS = {
    "ый": {"nom": "ый", "gen": "ого", "prep": "ом", "neut": "ое", "pl": "ые", "gen_pl": "ых"},
    "ой": {"nom": "ой", "gen": "ого", "prep": "ом", "neut": "ое", "pl": "ые", "gen_pl": "ых"},
    "ий": {"nom": "ий", "gen": "ьего", "prep": "ьем", "neut": "ье", "pl": "ьи", "gen_pl": "ьих"},
}
MONTHS_GENITIVE = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
]


def plural(n: int, one: str, few: str, many: str) -> str:
    """Pick the noun form that agrees with the cardinal ``n``."""
    if n % 100 in range(11, 15):
        return many
    if n % 10 == 1:
        return one
    if n % 10 in (2, 3, 4):
        return few
    return many


def cardinal_below_thousand(n: int, feminine: bool = False) -> list[str]:
    """Words of 1..999 in the nominative."""
    words: list[str] = []
    if n >= 100:
        words.append(HUNDREDS[n // 100])
        n %= 100
    if n >= 20:
        words.append(TENS[n // 10])
        n %= 10
    if 10 <= n < 20:
        words.append(TEENS[n - 10])
    elif n > 0:
        if feminine and n in (1, 2):
            words.append("одна" if n == 1 else "две")
        else:
            words.append(UNITS[n])
    return words


def cardinal(n: int, feminine: bool = False) -> str:
    """Nominative cardinal words of 0..999 999."""
    if n == 0:
        return "ноль"
    words: list[str] = []
    thousands, rest = divmod(n, 1000)
    if thousands:
        if thousands == 1:
            words.append("тысяча")
        else:
            words += cardinal_below_thousand(thousands, feminine=True)
            words.append(plural(thousands, "тысяча", "тысячи", "тысяч"))
    words += cardinal_below_thousand(rest, feminine=feminine)
    return " ".join(words)


def ordinal(n: int, form: str) -> str:
    """Ordinal of 1..9999 with only the last word inflected (``двадцать пятого``)."""
    thousands, rest = divmod(n, 1000)
    head: list[str] = []
    if rest == 0:
        stem = "тысячн" if thousands == 1 else f"{cardinal_genitive_thousands(thousands)}тысячн"
        return f"{stem}{ENDINGS['ый'][form]}"
    if thousands:
        head.append(cardinal(thousands * 1000))
    hundreds, tail = divmod(rest, 100)
    if tail == 0:
        stem, cls = ORDINAL_HUNDREDS[hundreds]
    else:
        if hundreds:
            head.append(HUNDREDS[hundreds])
        if tail < 10:
            stem, cls = ORDINAL_UNITS[tail]
        elif tail < 20:
            stem, cls = ORDINAL_TEENS[tail - 10]
        elif tail % 10 == 0:
            stem, cls = ORDINAL_TENS[tail // 10]
        else:
            head.append(TENS[tail // 10])
            stem, cls = ORDINAL_UNITS[tail % 10]
    return " ".join(head + [f"{stem}{ENDINGS[cls][form]}"])


def cardinal_genitive_thousands(thousands: int) -> str:
    """Prefix for round-thousand ordinals (``двухтысячный``)."""
    prefixes = {2: "двух", 3: "трёх", 4: "четырёх", 5: "пяти"}
    return prefixes.get(thousands, "двух")


def random_year(rng: random.Random) -> int:
    return rng.choice([rng.randint(1900, 1999), rng.randint(2000, 2030), rng.randint(1700, 1899)])


def day_month(rng: random.Random, form: str = "gen") -> str:
    return f"{ordinal(rng.randint(1, 31), form)} {rng.choice(MONTHS_GENITIVE)}"


def clock_time(rng: random.Random) -> str:
    hour = rng.randint(0, 23)
    minute = rng.choice([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, rng.randint(1, 59)])
    if minute == 0:
        return f"{cardinal(hour)} ноль ноль"
    if minute < 10:
        return f"{cardinal(hour)} ноль {UNITS[minute]}"
    return f"{cardinal(hour)} {cardinal(minute)}"


def money(rng: random.Random) -> str:
    amount = rng.choice([rng.randint(1, 99), rng.randint(100, 999), rng.randint(1000, 99999)])
    currency = rng.choice(
        [
            ("рубль", "рубля", "рублей"),
            ("доллар", "доллара", "долларов"),
            ("евро", "евро", "евро"),
        ]
    )
    text = f"{cardinal(amount)} {plural(amount, *currency)}"
    if currency[0] == "рубль" and rng.random() < 0.3:
        kopecks = rng.randint(1, 99)
        feminine = cardinal(kopecks, feminine=True)
        text += f" {feminine} {plural(kopecks, 'копейка', 'копейки', 'копеек')}"
    return text


def measure(rng: random.Random) -> str:
    n = rng.choice([rng.randint(1, 20), rng.randint(20, 500), rng.randint(500, 20000)])
    unit = rng.choice(
        [
            ("километр", "километра", "километров"),
            ("метр", "метра", "метров"),
            ("килограмм", "килограмма", "килограммов"),
            ("градус", "градуса", "градусов"),
            ("процент", "процента", "процентов"),
            ("человек", "человека", "человек"),
            ("год", "года", "лет"),
            ("минута", "минуты", "минут"),
            ("час", "часа", "часов"),
        ]
    )
    feminine = unit[0] == "минута"
    return f"{cardinal(n, feminine=feminine)} {plural(n, *unit)}"


def decimal(rng: random.Random) -> str:
    whole = rng.randint(0, 30)
    tenths = rng.randint(1, 9)
    whole_word = plural(whole, "целая", "целых", "целых")
    part_word = "десятая" if tenths == 1 else "десятых"
    return (
        f"{cardinal(whole, feminine=True)} {whole_word} "
        f"{cardinal(tenths, feminine=True)} {part_word}"
    )


def hours_of_day(rng: random.Random) -> str:
    hour = rng.randint(1, 12)
    part = rng.choice(["утра", "вечера", "дня"])
    return f"в {cardinal(hour)} {plural(hour, 'час', 'часа', 'часов')} {part}"


TEMPLATES = [
    lambda r: f"{day_month(r)} в {clock_time(r)}",
    lambda r: f"встреча назначена на {day_month(r, 'neut')}",
    lambda r: f"{day_month(r)} {ordinal(random_year(r), 'gen')} года",
    lambda r: f"родился {day_month(r)} {ordinal(random_year(r), 'gen')} года",
    lambda r: f"в {ordinal(random_year(r), 'prep')} году",
    lambda r: f"с {ordinal(random_year(r), 'gen')} по {ordinal(random_year(r), 'nom')} год",
    lambda r: f"{ordinal(random_year(r), 'nom')} год",
    lambda r: f"поезд отправляется в {clock_time(r)}",
    lambda r: f"начало в {clock_time(r)} по московскому времени",
    lambda r: hours_of_day(r),
    lambda r: f"к {HOURS_GENITIVE[r.randint(2, 12)]} {r.choice(['утра', 'вечера', 'ночи'])}",
    lambda r: f"стоимость составила {money(r)}",
    lambda r: f"цена {money(r)}",
    lambda r: f"итого {measure(r)}",
    lambda r: f"всего {measure(r)}",
    lambda r: f"рост на {decimal(r)} процента",
    lambda r: f"{cardinal(r.randint(10, 99999))}",
    lambda r: (
        f"с {ordinal(r.randint(1, 15), 'gen')} по {ordinal(r.randint(16, 31), 'neut')} "
        f"{r.choice(MONTHS_GENITIVE)}"
    ),
    lambda r: f"в {r.choice(['семидесятые', 'восьмидесятые', 'девяностые', 'двухтысячные'])}",
    lambda r: f"в начале {r.choice(['шестидесятых', 'семидесятых', 'восьмидесятых'])}",
    lambda r: f"сегодня {day_month(r, 'neut')}",
    lambda r: f"со счётом {UNITS[r.randint(0, 5)]} {UNITS[r.randint(0, 5)]}",
    lambda r: f"квартира {cardinal(r.randint(1, 300))}",
    lambda r: f"автобус номер {cardinal(r.randint(1, 99))}",
]


def spoken_number_lines(count: int, seed: int, exclude: set[str]) -> list[str]:
    """``count`` distinct spoken number phrases, none containing a phrase from ``exclude``."""
    rng = random.Random(seed)
    lines: list[str] = []
    seen: set[str] = set()
    while len(lines) < count:
        line = rng.choice(TEMPLATES)(rng)
        line = " ".join(line.split())
        if line in seen or any(phrase in line for phrase in exclude):
            continue
        seen.add(line)
        lines.append(line)
    return lines


# ---------------------------------------------------------------------------------------------
# Text preparation
# ---------------------------------------------------------------------------------------------

TEST_PHRASES = {"двадцать пятого мая в девять тридцать"}
TRAIN_VOICES = [
    "ru",
    "ru+f1",
    "ru+f2",
    "ru+f3",
    "ru+f4",
    "ru+m1",
    "ru+m2",
    "ru+m3",
    "ru+m4",
    "ru+m5",
    "ru+m6",
    "ru+klatt",
]
UNSEEN_VOICES = ["ru+m7", "ru+m8", "ru+f5", "ru+klatt2"]
SAMPLE_RATE = 16_000
WORD_RE = re.compile(r"[а-яё]+(?:-[а-яё]+)*")


def clean_sentence(line: str) -> str | None:
    """Lowercase words of a sentence in the model's alphabet; None if it has digits or Latin."""
    if re.search(r"[0-9a-zA-Z]", line):
        return None
    words = WORD_RE.findall(line.lower().replace("ё", "е"))
    return " ".join(words) if len(words) >= 2 else None


def to_target(text: str) -> str:
    """The transcript the model learns: ``ё`` written as ``е`` (the text source mixes both)."""
    return " ".join(text.replace("ё", "е").split())


def read_spoken_side(path: Path) -> list[str]:
    """Spoken column of a ``spoken<TAB>written`` file (lines with other characters are skipped)."""
    if not path.is_file():
        return []
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        spoken = raw.split("\t", 1)[0].strip().lower()
        if spoken and re.fullmatch(r"[а-яё -]+", spoken):
            lines.append(" ".join(spoken.split()))
    return lines


def chunk_words(words: list[str], rng: random.Random, low: int, high: int) -> list[list[str]]:
    """Split a sentence into consecutive pieces of ``low``..``high`` words."""
    pieces, start = [], 0
    while start < len(words):
        size = rng.randint(low, high)
        if len(words) - (start + size) < low:
            size = len(words) - start
        pieces.append(words[start : start + size])
        start += size
    return pieces


@dataclass
class TextSplit:
    train_sentences: list[str]
    heldout_sentences: list[str]
    number_lines: list[str]
    train_utterances: list[str]


def split_text(args: argparse.Namespace) -> TextSplit:
    rng = random.Random(args.seed)
    cleaned = []
    for line in Path(args.text).read_text(encoding="utf-8").splitlines():
        sentence = clean_sentence(line)
        if sentence and sentence not in cleaned:
            cleaned.append(sentence)
    order = list(range(len(cleaned)))
    rng.shuffle(order)
    heldout_ids = set(order[: args.heldout])
    heldout = [cleaned[i] for i in sorted(heldout_ids)]
    train = [cleaned[i] for i in range(len(cleaned)) if i not in heldout_ids]
    numbers = spoken_number_lines(args.number_lines, seed=args.seed, exclude=TEST_PHRASES)
    numbers += [
        s for s in read_spoken_side(Path(args.itn_tsv)) if not any(p in s for p in TEST_PHRASES)
    ]
    utterances = []
    for sentence in train:
        utterances += [" ".join(p) for p in chunk_words(sentence.split(), rng, 3, 12)]
    utterances += numbers
    return TextSplit(train, heldout, numbers, utterances)


# ---------------------------------------------------------------------------------------------
# Synthesis
# ---------------------------------------------------------------------------------------------


def synthesise(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """16 kHz mono int16 speech of ``text`` from espeak-ng, resampled by sox."""
    espeak = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
        check=True,
        capture_output=True,
    )
    sox = subprocess.run(
        [
            "sox",
            "-t",
            "wav",
            "-",
            "-t",
            "raw",
            "-r",
            str(SAMPLE_RATE),
            "-e",
            "signed",
            "-b",
            "16",
            "-c",
            "1",
            "-",
        ],
        input=espeak.stdout,
        check=True,
        capture_output=True,
    )
    return np.frombuffer(sox.stdout, dtype=np.int16)


def synthesise_set(
    texts: list[str], voices: list[str], seed: int, path: Path, workers: int = 2
) -> float:
    """Voice every text with a random voice, speed (140-190) and pitch (30-70); save as .npz."""
    rng = random.Random(seed)
    jobs = [(t, rng.choice(voices), rng.randint(140, 190), rng.randint(30, 70)) for t in texts]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        audio = list(pool.map(lambda job: synthesise(*job), jobs))
    lengths = np.array([len(a) for a in audio], dtype=np.int64)
    np.savez(
        path,
        audio=np.concatenate(audio),
        offsets=np.concatenate([[0], np.cumsum(lengths)]),
        texts=np.array([to_target(t) for t in texts]),
        voices=np.array([j[1] for j in jobs]),
    )
    hours = lengths.sum() / SAMPLE_RATE / 3600
    log(f"synthesised {len(texts)} utterances ({hours:.2f} h) -> {path}")
    return hours


@dataclass
class SpeechSet:
    audio: np.ndarray
    offsets: np.ndarray
    texts: list[str]
    voices: list[str]

    @classmethod
    def load(cls, path: Path) -> SpeechSet:
        data = np.load(path)
        return cls(data["audio"], data["offsets"], list(data["texts"]), list(data["voices"]))

    def __len__(self) -> int:
        return len(self.texts)

    def wave(self, index: int) -> np.ndarray:
        start, end = self.offsets[index], self.offsets[index + 1]
        return self.audio[start:end].astype(np.float32) / 32768.0


def stage_synth(args: argparse.Namespace, work: Path) -> None:
    split = split_text(args)
    (work / "heldout.txt").write_text("\n".join(split.heldout_sentences) + "\n", encoding="utf-8")
    (work / "lm_text.txt").write_text(
        "\n".join(split.train_sentences + split.number_lines) + "\n", encoding="utf-8"
    )
    log(
        f"text: {len(split.train_sentences)} train sentences, {len(split.heldout_sentences)} "
        f"held out, {len(split.number_lines)} number lines, {len(split.train_utterances)} "
        f"utterances x {args.voicings} voicings"
    )
    start = time.time()
    hours = synthesise_set(
        split.train_utterances * args.voicings, TRAIN_VOICES, args.seed, work / "train.npz"
    )
    (work / "data_info.json").write_text(json.dumps({"hours": round(hours, 2)}), "utf-8")
    synthesise_set(split.heldout_sentences, TRAIN_VOICES, args.seed + 1, work / "heldout.npz")
    synthesise_set(split.heldout_sentences, UNSEEN_VOICES, args.seed + 2, work / "unseen.npz")
    log(f"synthesis took {time.time() - start:.0f} s")


# ---------------------------------------------------------------------------------------------
# Model and training
# ---------------------------------------------------------------------------------------------


def build_model(vocab: dict[str, int]) -> Wav2Vec2ForCTC:
    config = Wav2Vec2Config(
        vocab_size=len(vocab),
        hidden_size=160,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=640,
        conv_dim=(32, 48, 96, 128),
        conv_stride=(5, 4, 4, 4),
        conv_kernel=(10, 8, 4, 4),
        num_feat_extract_layers=4,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        num_conv_pos_embeddings=32,
        num_conv_pos_embedding_groups=16,
        hidden_dropout=0.05,
        attention_dropout=0.05,
        activation_dropout=0.0,
        feat_proj_dropout=0.05,
        final_dropout=0.0,
        layerdrop=0.0,
        mask_time_prob=0.05,
        mask_time_length=5,
        mask_feature_prob=0.0,
        ctc_loss_reduction="mean",
        ctc_zero_infinity=True,
        pad_token_id=vocab["<pad>"],
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["</s>"],
        do_normalize=True,
    )
    return Wav2Vec2ForCTC(config)


def normalise(wave: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance: what ``Wav2Vec2FeatureExtractor(do_normalize=True)`` does."""
    return (wave - wave.mean()) / np.sqrt(wave.var() + 1e-7)


def augment(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light noise: white noise at 12-40 dB SNR for 60 % of utterances, random gain."""
    wave = wave * rng.uniform(0.3, 1.0)
    if rng.random() < 0.6:
        snr_db = rng.uniform(12, 40)
        power = float(np.mean(wave**2)) + 1e-9
        wave = wave + rng.normal(0, math.sqrt(power / 10 ** (snr_db / 10)), size=wave.shape)
    return wave.astype(np.float32)


def make_batches(
    lengths: np.ndarray, max_samples: int, rng: random.Random, shuffle: bool = True
) -> list[list[int]]:
    """Length-sorted batches whose padded size stays under ``max_samples``.

    With ``shuffle=False`` the batches come shortest first (SortaGrad: easy alignments first).
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches, current = [], []
    for index in order:
        if current and lengths[index] * (len(current) + 1) > max_samples:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    if shuffle:
        rng.shuffle(batches)
    return batches


def collate(
    data: SpeechSet,
    ids: list[int],
    tokenizer: Wav2Vec2CTCTokenizer,
    rng: np.random.Generator | None,
) -> dict[str, torch.Tensor]:
    waves = [data.wave(i) for i in ids]
    if rng is not None:
        waves = [augment(w, rng) for w in waves]
    waves = [normalise(w) for w in waves]
    longest = max(len(w) for w in waves)
    values = torch.zeros(len(waves), longest)
    mask = torch.zeros(len(waves), longest, dtype=torch.long)
    for row, wave in enumerate(waves):
        values[row, : len(wave)] = torch.from_numpy(wave)
        mask[row, : len(wave)] = 1
    labels = tokenizer([data.texts[i] for i in ids], padding=True, return_tensors="pt")
    label_ids = labels.input_ids.masked_fill(labels.attention_mask == 0, -100)
    return {"input_values": values, "attention_mask": mask, "labels": label_ids}


def learning_rate(step: int, progress: float, peak: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, constant until 30 % progress, then cosine to 3 %."""
    if step < warmup:
        return peak * (step + 1) / warmup
    decay = min(1.0, max(0.0, (progress - 0.3) / 0.7))
    return peak * (0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * decay)))


def stage_train(args: argparse.Namespace, work: Path) -> None:
    torch.manual_seed(args.seed)
    tokenizer = make_tokenizer(work)
    model = build_model(tokenizer.get_vocab())
    if args.resume:
        model.load_state_dict(torch.load(work / "checkpoint.pt", weights_only=True))
        log(f"continuing from {work / 'checkpoint.pt'}")
    log(f"model: {sum(p.numel() for p in model.parameters()):,} parameters")
    train = SpeechSet.load(work / "train.npz")
    heldout = SpeechSet.load(work / "heldout.npz")
    lengths = np.diff(train.offsets)
    max_samples = int(args.batch_seconds * SAMPLE_RATE)
    py_rng, np_rng = random.Random(args.seed), np.random.default_rng(args.seed)
    batches_per_epoch = len(make_batches(lengths, max_samples, random.Random(0)))
    total_steps = args.steps
    log(f"{len(train)} utterances, {batches_per_epoch} batches per epoch, {total_steps} steps")
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    step, start, last_save, epoch = 0, time.time(), time.time(), 0
    running = []

    def progress() -> float:
        by_time = (time.time() - start) / 60 / args.minutes if args.minutes else 0.0
        return max(step / total_steps, by_time)

    while progress() < 1.0:
        epoch += 1
        for batch_ids in make_batches(lengths, max_samples, py_rng, shuffle=epoch > 1):
            if progress() >= 1.0:
                break
            model.train()
            batch = collate(train, batch_ids, tokenizer, np_rng)
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(step, progress(), args.lr, args.warmup)
            loss = model(**batch).loss
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            running.append(loss.item())
            step += 1
            if step % 25 == 0:
                elapsed = (time.time() - start) / 60
                log(
                    f"epoch {epoch} step {step}/{total_steps} loss {np.mean(running):.3f} "
                    f"lr {optimiser.param_groups[0]['lr']:.2e} {elapsed:.1f} min "
                    f"progress {progress():.0%}"
                )
                running = []
            if step % args.eval_every == 0:
                cer, wer = evaluate(model, tokenizer, heldout, limit=40)
                log(f"step {step}: held-out greedy CER {cer:.2%} WER {wer:.2%} (40 sentences)")
            if time.time() - last_save > 300:
                torch.save(model.state_dict(), work / "checkpoint.pt")
                last_save = time.time()
    torch.save(model.state_dict(), work / "checkpoint.pt")
    minutes = (time.time() - start) / 60
    run = {"command": " ".join(sys.argv[1:]), "steps": step, "minutes": round(minutes, 1)}
    info = {"steps": step, "epochs": epoch, "minutes": round(minutes, 1), "runs": [run]}
    previous = work / "train_info.json"
    if args.resume and previous.is_file():
        before = json.loads(previous.read_text("utf-8"))
        info = {key: round(before[key] + info[key], 1) for key in ("steps", "epochs", "minutes")}
        info["runs"] = before.get("runs", []) + [run]
    previous.write_text(json.dumps(info), "utf-8")
    log(f"training done: {step} steps, {epoch} epochs, {minutes:.1f} min")


def make_tokenizer(work: Path) -> Wav2Vec2CTCTokenizer:
    return Wav2Vec2CTCTokenizer(
        str(VOCAB_PATH),
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        word_delimiter_token="|",
    )


@torch.no_grad()
def log_probs_of(
    model: Wav2Vec2ForCTC, data: SpeechSet, limit: int | None = None
) -> list[np.ndarray]:
    """Per-frame log-probabilities of the first ``limit`` utterances (all by default)."""
    model.eval()
    count = len(data) if limit is None else min(limit, len(data))
    return [
        torch.log_softmax(
            model(torch.from_numpy(normalise(data.wave(i)))[None]).logits[0], -1
        ).numpy()
        for i in range(count)
    ]


def greedy_texts(log_probs: list[np.ndarray], tokenizer: Wav2Vec2CTCTokenizer) -> list[str]:
    return [" ".join(tokenizer.decode(lp.argmax(-1).tolist()).split()) for lp in log_probs]


def error_rates(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    return {
        "cer": round(jiwer.cer(references, hypotheses), 4),
        "wer": round(jiwer.wer(references, hypotheses), 4),
    }


def evaluate(
    model: Wav2Vec2ForCTC,
    tokenizer: Wav2Vec2CTCTokenizer,
    data: SpeechSet,
    limit: int | None = None,
) -> tuple[float, float]:
    hypotheses = greedy_texts(log_probs_of(model, data, limit), tokenizer)
    references = data.texts[: len(hypotheses)]
    return jiwer.cer(references, hypotheses), jiwer.wer(references, hypotheses)


# ---------------------------------------------------------------------------------------------
# Word language model (interpolated Kneser-Ney, asr_pipeline.train.lm)
# ---------------------------------------------------------------------------------------------


def write_language_model(lm_text: Path, out: Path) -> None:
    """The ARPA file, unigrams and attrs.json (alpha/beta are added once chosen), built by the
    package's ``lm build`` code."""
    from asr_pipeline.train.lm import write_language_model as write_folder

    sentences = [to_target(s) for s in lm_text.read_text("utf-8").splitlines() if s.strip()]
    folder = out / "language_model"
    summary = write_folder(sentences, folder)
    log(f"language model: {summary.sentences} sentences, {summary.vocabulary} words -> {folder}")


ALPHAS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0)
BETAS = (-1.0, -0.5, 0.0, 0.5, 1.0, 2.0)


def beam_texts(
    folder: Path, vocabulary: CtcVocabulary, log_probs: list[np.ndarray], alpha: float, beta: float
) -> list[str]:
    """Texts of beam search with the model folder's language model, through the ctc stage's
    own decoder (one process); ``vocabulary`` is the stage's ``CtcVocabulary``."""
    from asr_pipeline.ctc.beam import BeamOptions

    decoder = BeamOptions(alpha=alpha, beta=beta, workers=1).build(vocabulary, str(folder), None)
    try:
        return [" ".join(w.text for w in decoder.decode(lp, 0.0, 0.02)) for lp in log_probs]
    finally:
        decoder.close()


def tune_language_model(
    folder: Path, vocabulary: CtcVocabulary, log_probs: list[np.ndarray], texts: list[str]
) -> tuple[float, float, float]:
    """The (alpha, beta) of the grid with the lowest WER on these utterances, and that WER."""
    scores = []
    for alpha in ALPHAS:
        for beta in BETAS:
            hyps = beam_texts(folder, vocabulary, log_probs, alpha, beta)
            scores.append((jiwer.wer(texts, hyps), jiwer.cer(texts, hyps), alpha, beta))
            log(f"alpha {alpha} beta {beta}: WER {scores[-1][0]:.2%} CER {scores[-1][1]:.2%}")
    wer, _, alpha, beta = min(scores)
    return alpha, beta, wer


def set_language_model_weights(folder: Path, alpha: float, beta: float) -> None:
    from asr_pipeline.train.lm import set_weights

    set_weights(folder / "language_model", alpha, beta)


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------


def stage_export(args: argparse.Namespace, work: Path) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tokenizer(work)
    model = build_model(tokenizer.get_vocab())
    model.load_state_dict(torch.load(work / "checkpoint.pt", weights_only=True))
    model.eval()
    results, log_probs = {}, {}
    for name in ("heldout", "unseen"):
        data = SpeechSet.load(work / f"{name}.npz")
        log_probs[name] = log_probs_of(model, data)
        results[name] = error_rates(data.texts, greedy_texts(log_probs[name], tokenizer))
        log(f"{name}: greedy CER {results[name]['cer']:.2%} WER {results[name]['wer']:.2%}")
    model.save_pretrained(out, safe_serialization=True)
    Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=SAMPLE_RATE,
        padding_value=0.0,
        do_normalize=True,
        return_attention_mask=True,
    ).save_pretrained(out)
    tokenizer.save_pretrained(out)
    write_language_model(work / "lm_text.txt", out)
    shutil.copy(work / "heldout.txt", out / "heldout_sentences.txt")
    heldout_texts = SpeechSet.load(work / "heldout.npz").texts
    beam = beam_results(args, log_probs["heldout"], heldout_texts, tokenizer, out)
    info = json.loads((work / "train_info.json").read_text("utf-8"))
    if (work / "data_info.json").is_file():
        info |= json.loads((work / "data_info.json").read_text("utf-8"))
    params = sum(p.numel() for p in model.parameters())
    metrics = {
        "parameters": params,
        "training": info,
        "greedy": results,
        "beam": beam,
        "seed": args.seed,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", "utf-8")
    size_mb = (out / "model.safetensors").stat().st_size / 1e6
    (out / "README.md").write_text(model_card(metrics, size_mb, args), "utf-8")
    log(f"saved to {out}: {json.dumps(metrics)}")


def beam_results(
    args: argparse.Namespace,
    log_probs: list[np.ndarray],
    texts: list[str],
    tokenizer: Wav2Vec2CTCTokenizer,
    out: Path,
) -> dict:
    """Tune alpha/beta on the second half of the held-out sentences (unless ``--alpha`` and
    ``--beta`` are given), then score greedy and beam on the first half, which the tuning never
    saw (the end-to-end tests and benchmarks speak sentences from that half)."""
    from asr_pipeline.ctc.decode import CtcVocabulary

    vocabulary = CtcVocabulary.from_tokenizer(tokenizer, log_probs[0].shape[-1])
    half = len(texts) // 2
    result: dict = {"tuned_on": f"held-out sentences {half + 1}-{len(texts)}"}
    if args.alpha is None or args.beta is None:
        alpha, beta, wer = tune_language_model(out, vocabulary, log_probs[half:], texts[half:])
        result["tuning_wer"] = round(wer, 4)
    else:
        alpha, beta = args.alpha, args.beta
        result["tuned_on"] = "not tuned (--alpha and --beta given)"
    set_language_model_weights(out, alpha, beta)
    scored = log_probs[:half]
    result |= {"alpha": alpha, "beta": beta, "scored_on": f"held-out sentences 1-{half}"}
    result["greedy"] = error_rates(texts[:half], greedy_texts(scored, tokenizer))
    result["beam"] = error_rates(texts[:half], beam_texts(out, vocabulary, scored, alpha, beta))
    log(f"beam vs greedy: {json.dumps(result)}")
    return result


def model_card(metrics: dict, size_mb: float, args: argparse.Namespace) -> str:
    """The model folder's README: data, scores, limits, licence, how to rebuild."""
    seen, unseen = metrics["greedy"]["heldout"], metrics["greedy"]["unseen"]
    beam = metrics["beam"]
    info = metrics["training"]
    return f"""---
language: ru
license: cc-by-sa-4.0
pipeline_tag: automatic-speech-recognition
---

# espeak-ru-tiny: a demonstration recognizer for espeak-ng's Russian voice

**A demonstration model, not for real speech.** It was trained only on synthetic speech from
espeak-ng's Russian voice (`espeak-ng -v ru` and its variants) and understands nothing else: a
human speaker gives nonsense. It exists so that the tests and the offline demo of asr-pipeline
can run the whole pipeline on real words without downloading anything. For real audio use the
default model (`jonatasgrosman/wav2vec2-large-xlsr-53-russian`).

## Model

`Wav2Vec2ForCTC` trained from scratch with CTC: {metrics["parameters"]:,} parameters,
{size_mb:.1f} MB (`model.safetensors`, float32). Convolutional front end 32/48/96/128 channels,
strides 5/4/4/4, kernels 10/8/4/4 (one frame per 20 ms of 16 kHz audio); 4 transformer layers,
hidden size 160, 4 heads. Vocabulary: `tests/fixtures/ru_vocab.json` (`<pad>` is the CTC blank,
`|` the word delimiter). The model writes `ё` as `е`.

## Data

- Text: sentences of `ru_text/dev.txt` (Universal Dependencies treebanks UD_Russian-GSD,
  UD_Russian-Taiga and UD_Russian-PUD; CC BY-SA 4.0 / 3.0), lower-cased, punctuation removed,
  sentences with digits or Latin letters dropped, cut into pieces of 3-12 words;
  {args.number_lines} generated spoken number expressions (dates, times, years, amounts, measures)
  and the spoken side of `tests/data/itn_dev.tsv`. The phrase used by the end-to-end tests
  (`двадцать пятого мая в девять тридцать`) is excluded.
- Held out: {args.heldout} sentences never used for training or the language model
  (`heldout_sentences.txt`).
- Speech: each training text voiced {args.voicings} times by espeak-ng 1.51 with a random voice
  of {", ".join(TRAIN_VOICES)}, speed 140-190 words/min, pitch 30-70, resampled to 16 kHz by sox
  ({info.get("hours", "about 5.7")} h). During training 60 % of utterances get white noise at
  12-40 dB SNR and every utterance a random gain.

## Results (greedy decoding)

| held-out sentences | CER | WER |
|---|---|---|
| voices seen in training | {seen["cer"]:.1%} | {seen["wer"]:.1%} |
| unseen voices ({", ".join(UNSEEN_VOICES)}) | {unseen["cer"]:.1%} | {unseen["wer"]:.1%} |

Training: {info["steps"]} steps in {len(info.get("runs", [1]))} run(s), {info["minutes"]} minutes on
{args.threads} CPU threads (commands under Reproduce). AdamW, linear warm-up, constant rate to
30 % of the run, then cosine decay; batches of about {args.batch_seconds:.0f} s of audio, the
first pass shortest first (SortaGrad); SpecAugment-style time masking (`mask_time_prob` 0.05).

Limits: WER stays high because words often run together (`в девять` -> `вдевять`) and
unstressed vowels are written as heard (`приходити`); voices outside the training set are
recognised worse. A longer run (`--minutes`) lowers both.

## Language model

`language_model/` holds a word 3-gram model (interpolated Kneser-Ney, written as ARPA by the
training script) of the training text, `unigrams.txt` and `attrs.json`, laid out like the default
model's repository so that beam-search decoding finds it. `alpha` {beam["alpha"]} and `beta`
{beam["beta"]} in `attrs.json` are the lowest-WER pair of a grid search (alpha
{", ".join(map(str, ALPHAS))}; beta {", ".join(map(str, BETAS))}) on {beam["tuned_on"]}. On
{beam["scored_on"]}, which the tuning never saw:

| decoder | CER | WER |
|---|---|---|
| greedy | {beam["greedy"]["cer"]:.1%} | {beam["greedy"]["wer"]:.1%} |
| beam search (`decoder: beam`) | {beam["beam"]["cer"]:.1%} | {beam["beam"]["wer"]:.1%} |

## Licence

The weights, language model and `heldout_sentences.txt` derive from CC BY-SA text and are shared
under CC BY-SA 4.0. espeak-ng is GPL-3.0; the speech it produced is not distributed here.

## Reproduce

```bash
{reproduce_commands(info)}
```

See `scripts/README.md`. `--minutes` ends a run by the clock, so the amount of training depends
on the CPU; the steps each run made are recorded in `metrics.json`.
"""


def reproduce_commands(info: dict) -> str:
    """The commands that made this model, in order (one ``all`` run when nothing was recorded)."""
    runs = info.get("runs") or [{"command": "train"}]
    commands = ["python scripts/train_espeak_model.py synth"]
    commands += [f"python scripts/train_espeak_model.py {run['command']}" for run in runs]
    commands.append("python scripts/train_espeak_model.py export")
    return "\n".join(commands)


SAMPLE_TEXT = (
    "встреча назначена на двадцать пятого мая в девять тридцать",
    "пожалуйста приходите заранее",
)


def stage_sample(args: argparse.Namespace) -> None:
    """The bundled demonstration recording: two phrases with a pause, 16 kHz FLAC, and its text."""
    import soundfile

    pause = np.zeros(int(0.8 * SAMPLE_RATE), dtype=np.int16)
    parts = [pause]
    for text in SAMPLE_TEXT:
        parts += [synthesise(text, "ru", 150, 50), pause]
    folder = Path(args.examples)
    folder.mkdir(parents=True, exist_ok=True)
    soundfile.write(folder / "espeak_ru_sample.flac", np.concatenate(parts), SAMPLE_RATE)
    (folder / "espeak_ru_sample.txt").write_text("\n".join(SAMPLE_TEXT) + "\n", "utf-8")
    log(f"sample -> {folder / 'espeak_ru_sample.flac'}")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["synth", "train", "export", "sample", "all"])
    parser.add_argument("--text", default=str(ROOT.parent / "shared/data/ru_text/dev.txt"))
    parser.add_argument("--itn-tsv", default=str(ROOT / "tests/data/itn_dev.tsv"))
    parser.add_argument("--work-dir", default="/tmp/espeak-ru-train")
    parser.add_argument("--out", default=str(ROOT / "tests/fixtures/espeak-ru-tiny"))
    parser.add_argument("--examples", default=str(ROOT / "examples"))
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--heldout", type=int, default=120, help="sentences kept out of training")
    parser.add_argument("--number-lines", type=int, default=700)
    parser.add_argument("--voicings", type=int, default=2, help="voices per training text")
    parser.add_argument("--steps", type=int, default=3000, help="upper bound on optimiser steps")
    parser.add_argument(
        "--minutes",
        type=float,
        default=0.0,
        help="also stop (and finish the learning-rate decay) after this many minutes; 0 = no limit",
    )
    parser.add_argument("--batch-seconds", type=float, default=16.0)
    parser.add_argument("--lr", type=float, default=1.5e-3)
    parser.add_argument("--warmup", type=int, default=150)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="train: start from WORK/checkpoint.pt instead of random weights (a second schedule)",
    )
    parser.add_argument(
        "--alpha", type=float, help="LM weight for attrs.json (default: tuned on held-out speech)"
    )
    parser.add_argument(
        "--beta", type=float, help="word bonus for attrs.json (default: tuned with --alpha)"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    if args.stage in ("synth", "all"):
        stage_synth(args, work)
    if args.stage in ("train", "all"):
        stage_train(args, work)
    if args.stage in ("export", "all"):
        stage_export(args, work)
    if args.stage in ("sample", "all"):
        stage_sample(args)


if __name__ == "__main__":
    main()
