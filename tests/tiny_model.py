"""A tiny random wav2vec2 CTC model with the project's Russian vocabulary, saved like a hub repo.

>>> from tests.tiny_model import save_tiny_model
>>> folder = save_tiny_model(tmp_path / "model")                 # doctest: +SKIP
>>> CtcStage(model=str(folder), device="cpu")                    # doctest: +SKIP

Options: ``weights="safetensors"`` (``model.safetensors``) or ``"bin"`` (``pytorch_model.bin``),
and ``language_model=True`` to add a ``language_model/`` folder and an ``alphabet.json`` laid out
like the default repository's (so ``AutoProcessor`` would pick the kenlm processor).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Literal

VOCAB_FILE = Path(__file__).parent / "fixtures" / "ru_vocab.json"

TINY_ARPA = """\\data\\
ngram 1=4
ngram 2=2

\\1-grams:
-1.0\t<s>\t-0.3
-1.0\t</s>\t0
-1.0\t<unk>\t0
-0.5\tпривет\t-0.3

\\2-grams:
-0.2\t<s> привет
-0.2\tпривет </s>

\\end\\
"""
"""A two-gram ARPA (kenlm refuses unigram-only models)."""


def tiny_config(vocab_size: int = 40, seed_scale: float = 0.5) -> object:
    """A two-layer wav2vec2 config shaped like xlsr-53 (layer-norm encoder, 320-sample frames)."""
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16, 16, 16, 16, 16, 16, 16),
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        conv_bias=True,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        initializer_range=seed_scale,
        mask_time_prob=0.0,
    )


def save_tiny_model(
    folder: str | Path,
    *,
    weights: Literal["safetensors", "bin"] = "safetensors",
    language_model: bool = False,
    seed: int = 0,
) -> Path:
    """Build the tiny model, feature extractor and tokenizer; save all three to ``folder``."""
    import torch
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = Wav2Vec2ForCTC(tiny_config()).eval()
    feature_extractor = Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=16_000,
        padding_value=0.0,
        do_normalize=True,
        return_attention_mask=True,
    )
    vocab = folder / "vocab.json"
    shutil.copyfile(VOCAB_FILE, vocab)
    tokenizer = Wav2Vec2CTCTokenizer(
        str(vocab),
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        word_delimiter_token="|",
        do_lower_case=False,
    )
    model.save_pretrained(folder, safe_serialization=weights == "safetensors")
    feature_extractor.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    if weights == "bin":
        (folder / "model.safetensors").unlink(missing_ok=True)
        if not (folder / "pytorch_model.bin").exists():
            torch.save(model.state_dict(), folder / "pytorch_model.bin")
    if language_model:
        _add_language_model(folder)
    return folder


def _add_language_model(folder: Path) -> None:
    """The default repository's layout: ``alphabet.json``, ``language_model/{attrs.json,
    unigrams.txt, lm file}``, and a preprocessor config naming ``Wav2Vec2ProcessorWithLM``."""
    labels = json.loads(VOCAB_FILE.read_text(encoding="utf-8"))
    alphabet = [""] + [" " if t == "|" else t for t in sorted(labels, key=labels.get)[1:]]
    (folder / "alphabet.json").write_text(
        json.dumps({"labels": alphabet, "is_bpe": False}, ensure_ascii=False), encoding="utf-8"
    )
    lm = folder / "language_model"
    lm.mkdir(exist_ok=True)
    (lm / "attrs.json").write_text(
        json.dumps({"alpha": 0.5, "beta": 1.5, "unk_score_offset": -10.0, "score_boundary": True}),
        encoding="utf-8",
    )
    (lm / "unigrams.txt").write_text("привет\n", encoding="utf-8")
    (lm / "5gram.arpa").write_text(TINY_ARPA, encoding="utf-8")
    config_path = folder / "preprocessor_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["processor_class"] = "Wav2Vec2ProcessorWithLM"
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
