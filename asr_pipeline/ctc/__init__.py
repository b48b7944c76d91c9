"""The ``ctc`` stage: wav2vec2 CTC recognition of speech segments into timed words.

The work splits in three: a *backend* turns batches of audio into log-probabilities
(:mod:`.backend`), a *decoder* turns one segment's log-probabilities into timed words
(:mod:`.decode`), and the :class:`~.recognize.Recognizer` reads, windows, batches and stitches
between them (:mod:`.batching`). Nothing heavy is imported until a stage is built.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from ..config import File, Range
from ..errors import ConfigError
from ..hub import revision_to_load
from ..types import Transcript
from .beam import BeamDecoder, BeamOptions
from .confidence import METHODS
from .decode import CtcVocabulary, GreedyDecoder
from .language_model import UNIGRAMS_LIMIT
from .recognize import Recognizer

__all__ = [
    "DEFAULT_MODEL",
    "BeamDecoder",
    "CtcStage",
    "CtcVocabulary",
    "GreedyDecoder",
    "Recognizer",
]

DEFAULT_MODEL = "jonatasgrosman/wav2vec2-large-xlsr-53-russian"


class CtcStage:
    """Recognise speech segments with a wav2vec2 CTC model into timed, lower-case words.

    Options:
        model: hub id or local folder of a transformers CTC model (AutoModelForCTC).
        revision: hub commit, branch or tag to load (None: for the default model the commit
            it is pinned to, 2329100508896c6d9b157019803ab5601e6f3406; for other models the
            newest; main: the newest). The commit loaded is recorded in the metadata.
        device: auto (cuda when available), cpu or cuda.
        dtype: float32, float16 or bfloat16; 16-bit only on cuda (10-15x slower on CPU).
        quantize: none or int8 (dynamic int8 linear layers, CPU only: 1.5-1.9x faster than
            float32 in about half the memory).
        backend: torch, or onnx (ONNX Runtime, float32 only: on CPU about 1.2x the torch
            backend's speed in float32, 1.4-1.7x in int8; exported once and cached; needs
            pip install 'asr-pipeline[onnx]').
        batch_s: seconds of audio per batch, padding included.
        chunk_s: segments longer than this run in overlapping windows of this length.
        stride_s: seconds of context each window shares with its neighbour on either side.
        threads: torch CPU threads during recognition, or ONNX Runtime's intra-op threads
            (None: the process's setting; for onnx, the available cores).
        decoder: greedy, or beam (beam search with a KenLM language model and hotwords;
            needs pip install 'asr-pipeline[lm]').
        lm: KenLM language model for beam: a .binary or .arpa file, or a folder laid out like
            language_model/ (None: the model's own language_model/ folder).
        unigrams: the words of the lm file, one per line (None: unigrams.txt beside it, or the
            ARPA file's own words).
        alpha: weight of the language model (None: attrs.json's, else 0.5).
        beta: score bonus per word (None: attrs.json's, else 1.5).
        beam_width: hypotheses kept at each frame.
        beam_prune_logp: hypotheses scoring this far (log) below the best are dropped.
        token_min_logp: letters less likely than this (log) at a frame are not tried.
        hotwords: words or phrases to favour in beam search (any case).
        hotwords_file: a file of hotwords, one per line.
        hotword_weight: score bonus of a hotword.
        vocabulary: the user vocabulary file (one term per line); under beam its terms are
            hotwords (set by the top-level vocabulary key or --vocabulary).
        decode_workers: beam-search processes (None: one per core, at most 8, where fork
            works, i.e. Linux; 1: decode in this process).
        confidence: how each word's confidence (its score, 0..1) is computed from the model's
            frame probabilities, for greedy and beam alike: entropy (one minus each frame's
            normalised Tsallis entropy, alpha 0.75, multiplied over the word's frames and 8
            either side, after arXiv 2212.08703, with the posterior of the word's spelling, or
            of the word among the beams) or max_prob (the mean probability of the best label
            over the frames that emit its letters, the weaker baseline).
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        revision: str | None = None,
        device: str = "auto",
        dtype: Literal["float32", "float16", "bfloat16"] = "float32",
        quantize: Literal["none", "int8"] = "none",
        backend: Literal["torch", "onnx"] = "torch",
        batch_s: Annotated[float, Range(gt=0)] = 20.0,
        chunk_s: Annotated[float, Range(gt=0)] = 20.0,
        stride_s: Annotated[float, Range(ge=0)] = 2.0,
        threads: Annotated[int | None, Range(ge=1)] = None,
        decoder: Literal["greedy", "beam"] = "greedy",
        lm: Annotated[str | None, File(limit=None, folder=True)] = None,
        unigrams: Annotated[str | None, File(limit=UNIGRAMS_LIMIT)] = None,
        alpha: Annotated[float | None, Range(ge=0)] = None,
        beta: float | None = None,
        beam_width: Annotated[int, Range(ge=1)] = 100,
        beam_prune_logp: Annotated[float, Range(le=0)] = -10.0,
        token_min_logp: Annotated[float, Range(le=0)] = -5.0,
        hotwords: list[str] | None = None,
        hotwords_file: Annotated[str | None, File()] = None,
        hotword_weight: float = 10.0,
        vocabulary: Annotated[str | None, File()] = None,
        decode_workers: Annotated[int | None, Range(ge=1)] = None,
        confidence: Literal["entropy", "max_prob"] = "entropy",
    ) -> None:
        _check_options(device, dtype, quantize, batch_s, chunk_s, stride_s, threads)
        if confidence not in METHODS:
            raise ConfigError(
                f"expected {' or '.join(METHODS)}, got '{confidence}'", "stages.ctc.confidence"
            )
        method = METHODS[confidence]
        revision = revision_to_load(model, revision)
        beam = BeamOptions(
            lm, unigrams, alpha, beta, beam_width, beam_prune_logp, token_min_logp,
            tuple(hotwords or ()), hotwords_file, hotword_weight, vocabulary, decode_workers,
            method,
        )  # fmt: skip
        beam.check(decoder)
        if backend not in ("torch", "onnx"):
            raise ConfigError(f"expected torch or onnx, got '{backend}'", "stages.ctc.backend")
        if backend == "onnx":
            from .onnx_backend import check_onnx_options

            check_onnx_options(dtype)
        from .backend import TorchBackend
        from .model import check_precision, load_model, resolve_device

        resolved = resolve_device(device)
        check_precision(resolved, dtype, quantize)
        if backend == "onnx":  # torch weights are loaded only to export the model once
            from .onnx_backend import OnnxBackend

            self.backend, loaded = OnnxBackend.load(
                model, revision, device=resolved, quantize=quantize, threads=threads
            )
        else:
            loaded = load_model(model, revision)
            self.backend = TorchBackend(
                loaded.model,
                loaded.feature_extractor,
                device=resolved,
                dtype=dtype,
                quantize=quantize,
                threads=threads,
            )
        self.model = loaded.name
        self.revision = loaded.revision
        self.device = resolved
        vocabulary = CtcVocabulary.from_tokenizer(loaded.tokenizer, self.backend.vocabulary_size)
        self.decoder: GreedyDecoder | BeamDecoder = (
            beam.build(vocabulary, loaded.name, loaded.revision)
            if decoder == "beam"
            else GreedyDecoder(vocabulary, method)
        )
        self.recognizer = Recognizer(
            self.backend, self.decoder, batch_s=batch_s, chunk_s=chunk_s, stride_s=stride_s
        )

    def __call__(self, transcript: Transcript) -> Transcript:
        result = self.recognizer(transcript)
        metadata = dataclasses.replace(result.metadata, model=self.model, revision=self.revision)
        return dataclasses.replace(result, metadata=metadata)

    def __repr__(self) -> str:
        return f"CtcStage(model={self.model!r}, device={self.device!r})"


def _check_options(
    device: str,
    dtype: str,
    quantize: str,
    batch_s: float,
    chunk_s: float,
    stride_s: float,
    threads: int | None,
) -> None:
    where = "stages.ctc"
    if device != "auto" and device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"expected auto, cpu or cuda, got '{device}'", f"{where}.device")
    if dtype not in ("float32", "float16", "bfloat16"):
        raise ConfigError(f"expected float32, float16 or bfloat16, got '{dtype}'", f"{where}.dtype")
    if quantize not in ("none", "int8"):
        raise ConfigError(f"expected none or int8, got '{quantize}'", f"{where}.quantize")
    if quantize == "int8" and dtype != "float32":
        raise ConfigError("int8 quantization works from float32 weights", f"{where}.dtype")
    if chunk_s <= 0 or batch_s <= 0 or stride_s < 0:
        raise ConfigError("batch_s and chunk_s must be positive, stride_s not negative", where)
    if 2 * stride_s >= chunk_s:
        raise ConfigError(
            f"stride_s ({stride_s}) must be less than half of chunk_s ({chunk_s})",
            f"{where}.stride_s",
        )
    if threads is not None and threads < 1:
        raise ConfigError("expected at least 1 thread (or nothing)", f"{where}.threads")
