"""Beam-search CTC decoding with a KenLM language model and hotwords (pyctcdecode).

:class:`BeamDecoder` offers the same ``decode`` as :class:`~.decode.GreedyDecoder`, plus
``decode_batch``, which spreads a group of segments over a fork pool. One decoder, with its
language model, is built once per stage and reused for every segment; the pool's workers are
forked after it is built and so share the loaded model instead of loading it again.
pyctcdecode and kenlm are the optional extra ``[lm]``.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import itertools
import logging
import multiprocessing
import os
import sys
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, MissingDependencyError, ModelError
from ..io import TEXT_FILE_LIMIT, regular_file
from ..terms import call_terms, current_terms
from ..types import Word
from .align import align_words
from .confidence import METHODS, Confidence, word_posteriors
from .decode import CtcVocabulary
from .language_model import (
    LanguageModelFiles,
    check_coverage,
    explicit_language_model,
    model_language_model,
    unigrams_of,
    words_case,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = ["BeamDecoder", "BeamOptions", "decoder_labels", "require_lm_extra"]

DEFAULT_ALPHA = 0.5
DEFAULT_BETA = 1.5
"""pyctcdecode's defaults, used when neither the option nor ``attrs.json`` gives a value."""
_PRIVATE_USE = 0xE000
"""Labels for special tokens start here: characters no language model or hotword contains."""
_WHERE = "stages.ctc"


def require_lm_extra() -> None:
    """Raise :class:`MissingDependencyError` unless pyctcdecode and kenlm import."""
    try:
        for package in ("pyctcdecode", "kenlm"):
            importlib.import_module(package)
    except ImportError as e:
        raise MissingDependencyError(
            "beam search decoding (stages.ctc.decoder: beam)", "lm", e.name
        ) from e


# ---------------------------------------------------------------- options


@dataclass(frozen=True)
class BeamOptions:
    """The ``ctc`` stage's beam-search options, checked before any model is loaded."""

    lm: str | None = None
    unigrams: str | None = None
    alpha: float | None = None
    beta: float | None = None
    beam_width: int = 100
    beam_prune_logp: float = -10.0
    token_min_logp: float = -5.0
    hotwords: Sequence[str] = ()
    hotwords_file: str | None = None
    hotword_weight: float = 10.0
    vocabulary: str | None = None
    workers: int | None = None
    confidence: Confidence = METHODS["entropy"]

    def check(self, decoder: str) -> None:
        """Refuse bad values; for beam, also a missing extra or missing files.

        The user vocabulary is not an error with greedy decoding: it is handed to every stage
        that takes it (casing too), and feeds hotwords only under beam search.
        """
        if decoder not in ("greedy", "beam"):
            raise ConfigError(f"expected greedy or beam, got '{decoder}'", f"{_WHERE}.decoder")
        if decoder == "greedy":
            given = [
                name
                for name in ("lm", "unigrams", "alpha", "beta", "hotwords_file")
                if getattr(self, name) is not None
            ]
            if self.hotwords:
                given.append("hotwords")
            if given:
                raise ConfigError(
                    f"{', '.join(given)} work only with beam search: set stages.ctc.decoder: beam",
                    f"{_WHERE}.{given[0]}",
                )
            return
        if self.beam_width < 1:
            raise ConfigError("expected at least 1", f"{_WHERE}.beam_width")
        for name in ("beam_prune_logp", "token_min_logp"):
            if getattr(self, name) > 0:
                raise ConfigError("expected a log-probability: 0 or less", f"{_WHERE}.{name}")
        if self.workers is not None and self.workers < 1:
            raise ConfigError("expected at least 1 (or nothing)", f"{_WHERE}.decode_workers")
        for name in ("lm", "unigrams", "hotwords_file", "vocabulary"):
            value = getattr(self, name)
            if value is not None and not (name == "lm" and Path(value).expanduser().is_dir()):
                limit = None if name in ("lm", "unigrams") else TEXT_FILE_LIMIT
                regular_file(value, limit=limit, where=f"{_WHERE}.{name}")
        if self.unigrams is not None and self.lm is None:
            raise ConfigError("unigrams go with an lm file: give stages.ctc.lm too", _WHERE)
        require_lm_extra()

    def language_model(self, model: str, revision: str | None) -> LanguageModelFiles:
        """The LM files: ``lm`` if given, else the model's ``language_model/`` folder."""
        if self.lm is not None:
            return explicit_language_model(self.lm, self.unigrams)
        return model_language_model(model, revision)

    def all_hotwords(self) -> list[str]:
        """Hotwords from the list, the hotwords file and the user vocabulary, in that order."""
        terms = [" ".join(str(t).split()) for t in self.hotwords]
        if self.hotwords_file is not None:
            terms += _read_terms(self.hotwords_file, "hotwords_file")
        if self.vocabulary is not None:
            terms += _read_terms(self.vocabulary, "vocabulary")
        return list(dict.fromkeys(t for t in terms if t))

    def build(self, vocabulary: CtcVocabulary, model: str, revision: str | None) -> BeamDecoder:
        """The decoder for a model's vocabulary, with its language model loaded."""
        return BeamDecoder(
            vocabulary,
            self.language_model(model, revision),
            alpha=self.alpha,
            beta=self.beta,
            beam_width=self.beam_width,
            beam_prune_logp=self.beam_prune_logp,
            token_min_logp=self.token_min_logp,
            hotwords=self.all_hotwords(),
            hotword_weight=self.hotword_weight,
            workers=self.workers,
            confidence=self.confidence,
        )


def _read_terms(path: str, option: str) -> list[str]:
    from postprocess.vocabulary import read_vocabulary

    try:
        return list(read_vocabulary(path))
    except ConfigError as e:
        raise ConfigError(str(e).removeprefix("vocabulary: "), f"{_WHERE}.{option}") from e


# ---------------------------------------------------------------- labels


def decoder_labels(vocabulary: CtcVocabulary, case: str = "lower") -> list[str]:
    """pyctcdecode's alphabet in output-index order: the blank as ``""``, the word delimiter as
    ``" "``, letters in ``case`` (lower or upper), and each special token (``<s>``, ``<unk>``...)
    as a private-use character that no language model or hotword contains."""
    labels = []
    for index, label in enumerate(vocabulary.labels):
        if index == vocabulary.blank:
            labels.append("")
        elif index == vocabulary.delimiter:
            labels.append(" ")
        elif index in vocabulary.ignored or not label:
            labels.append(chr(_PRIVATE_USE + index))
        else:
            labels.append(label.upper() if case == "upper" else label.lower())
    if len(set(labels)) != len(labels):
        raise ModelError(
            f"the model's labels are not distinct in {case} case; beam search cannot use them"
        )
    return labels


# ---------------------------------------------------------------- decoder


class BeamDecoder:
    """CTC beam search with a KenLM language model and hotwords.

    The beam gives the words; their times and letter frames come from the best CTC path
    spelling them (:func:`~.align.align_words`), timed like the greedy decoder's: first frame
    of the first letter to one frame past the last letter, and scored with the same
    ``confidence`` over those frames. Special tokens (``<s>``, ``<unk>``...) emit nothing.
    """

    def __init__(
        self,
        vocabulary: CtcVocabulary,
        language_model: LanguageModelFiles | None,
        *,
        alpha: float | None = None,
        beta: float | None = None,
        beam_width: int = 100,
        beam_prune_logp: float = -10.0,
        token_min_logp: float = -5.0,
        hotwords: Sequence[str] = (),
        hotword_weight: float = 10.0,
        workers: int | None = None,
        confidence: Confidence = METHODS["entropy"],
    ) -> None:
        require_lm_extra()
        if vocabulary.delimiter is None:
            raise ModelError("beam search needs a model with a word delimiter token ('|')")
        self.vocabulary = vocabulary
        self.language_model = language_model
        attrs = language_model.attrs if language_model else {}
        self.alpha = float(alpha if alpha is not None else attrs.get("alpha", DEFAULT_ALPHA))
        self.beta = float(beta if beta is not None else attrs.get("beta", DEFAULT_BETA))
        self.beam_width = beam_width
        self.beam_prune_logp = beam_prune_logp
        self.token_min_logp = token_min_logp
        self.hotword_weight = hotword_weight
        self.confidence = confidence
        self.workers = workers if workers is not None else default_workers()
        unigrams = unigrams_of(language_model)
        ignored = vocabulary.ignored
        letters = [label for i, label in enumerate(vocabulary.labels) if i not in ignored]
        self.case = words_case(unigrams or letters)
        self.labels = decoder_labels(vocabulary, self.case)
        if language_model is not None and unigrams:
            check_coverage(self.labels, unigrams, language_model.model)
        self.hotwords = self._usable_hotwords(hotwords)
        self._ids = {label: i for i, label in enumerate(self.labels) if len(label) == 1}
        self._silent = [vocabulary.blank, vocabulary.delimiter]
        self._decoder = _build_decoder(self.labels, language_model, unigrams, attrs)
        self._decoder.reset_params(alpha=self.alpha, beta=self.beta)
        self._pool: Any = None
        self._pool_lock = threading.Lock()

    def set_weights(self, alpha: float, beta: float) -> None:
        """Change the language model's weight and the word bonus (tuning them on dev audio)."""
        self.alpha, self.beta = float(alpha), float(beta)
        self._decoder.reset_params(alpha=self.alpha, beta=self.beta)

    def _usable_hotwords(self, terms: Sequence[str]) -> list[str]:
        """Terms in the language model's case; those with letters the model cannot emit are
        dropped (a Latin brand name for a Cyrillic model)."""
        known = set(self.labels)
        cased = (t.upper() if self.case == "upper" else t.lower() for t in terms)
        return [term for term in cased if all(c in known for c in term)]

    def _call_hotwords(self) -> list[str]:
        """The configured hotwords plus this call's terms (:mod:`asr_pipeline.terms`)."""
        extra = current_terms()
        if not extra:
            return self.hotwords
        return list(dict.fromkeys([*self.hotwords, *self._usable_hotwords(extra)]))

    # -------------------------------------------------------- decoding

    def decode(self, log_probs: np.ndarray, start: float, frame_s: float) -> list[Word]:
        """Timed words of one segment (see :class:`~.decode.Decoder`)."""
        if len(log_probs) == 0:
            return []
        prepared = self._prepare(log_probs)
        with _quiet_pyctcdecode():
            beams = self._decoder.decode_beams(
                prepared,
                beam_width=self.beam_width,
                beam_prune_logp=self.beam_prune_logp,
                token_min_logp=self.token_min_logp,
                hotwords=self._call_hotwords() or None,
                hotword_weight=self.hotword_weight,
            )
        if not beams:
            return []
        text, _, offsets, _, _ = beams[0]
        texts = text.split()
        if self.confidence.posterior and len(texts) == len(offsets):
            nbest = [(score, frames) for _, _, frames, _, score in beams]
            posteriors = word_posteriors(nbest, self.confidence.beam_temperature)
        else:
            posteriors = None
        return self._words(texts, offsets, posteriors, prepared, log_probs, start, frame_s)

    def decode_batch(
        self, items: Sequence[tuple[np.ndarray, float]], frame_s: float
    ) -> list[list[Word]]:
        """Timed words of several segments, ``(log_probs, start)`` each: over the fork pool
        when there is one and more than one segment, else one after another."""
        pool = self._pool_for(len(items))
        if pool is None:
            return [self.decode(log_probs, start, frame_s) for log_probs, start in items]
        decode = functools.partial(_decode_in_worker, self._key, frame_s, current_terms())
        return pool.map(decode, items)

    def _prepare(self, log_probs: np.ndarray) -> np.ndarray:
        """Float32 log-probabilities with special tokens folded into the blank."""
        import numpy as np

        prepared = np.array(log_probs, dtype=np.float32, copy=True)
        ignored = sorted(self.vocabulary.ignored)
        if ignored:
            blank = self.vocabulary.blank
            prepared[:, blank] = np.logaddexp.reduce(prepared[:, [blank, *ignored]], axis=1)
            prepared[:, ignored] = np.log(1e-15)
        return prepared

    def _words(
        self,
        texts: Sequence[str],
        offsets: Sequence[tuple[str, tuple[int, int]]],
        posteriors: Sequence[float] | None,
        prepared: np.ndarray,
        log_probs: np.ndarray,
        start: float,
        frame_s: float,
    ) -> list[Word]:
        """Words timed on the best path through ``prepared`` (special tokens folded into the
        blank), scored on the model's own ``log_probs`` as the greedy decoder scores them, and
        then with their N-best ``posteriors`` (one per word, None for frames alone)."""
        import numpy as np

        posteriors = posteriors if posteriors is not None else [None] * len(texts)
        spelled = [[self._ids[c] for c in text if c in self._ids] for text in texts]
        spans = align_words(prepared, spelled, self._silent)
        if spans is not None:
            timed = [
                (t, s.first, s.end, s.letter_frames, p)
                for t, s, p in zip(texts, spans, posteriors, strict=True)
            ]
        else:  # too long to align: pyctcdecode's offsets, scored on their non-silent frames
            speaking = ~np.isin(prepared.argmax(axis=1), self._silent)
            timed = [
                (
                    t,
                    first,
                    end,
                    [f for f in range(first, end) if speaking[f]] or range(first, end),
                    p,
                )
                for (t, (first, end)), p in zip(offsets, posteriors, strict=False)
                if len(log_probs) >= end > first >= 0
            ]
        confidence = self.confidence.frames(log_probs)
        words = []
        for text, first, end, frames, posterior in timed:
            score = self.confidence.word(confidence, list(frames))
            if posterior is not None:
                score = self.confidence.combine(score, posterior)
            words.append(
                Word(
                    text.lower(),
                    round(start + first * frame_s, 3),
                    round(start + end * frame_s, 3),
                    score,
                )
            )
        return words

    # -------------------------------------------------------- pool

    def _pool_for(self, segments: int) -> Any:
        """The fork pool, started on first use (after the language model is loaded, so the
        workers inherit it); None for fewer than two segments, a single worker, or inside a
        daemonic process (a pool worker itself), which may not start processes."""
        if segments < 2 or self.workers < 2 or multiprocessing.current_process().daemon:
            return None
        with self._pool_lock:  # threads sharing the decoder start one pool between them
            if self._pool is None:
                self._key = next(_KEYS)
                _FORKED[self._key] = self
                gc.freeze()  # the workers' garbage collector then leaves the shared pages alone
                try:
                    self._pool = multiprocessing.get_context("fork").Pool(self.workers)
                finally:
                    gc.unfreeze()
                    del _FORKED[self._key]  # the workers hold their copy; this process needs none
                weakref.finalize(self, self._pool.terminate)
            return self._pool

    def close(self) -> None:
        """Stop the worker processes (they also stop when the decoder is collected)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None

    def __repr__(self) -> str:
        lm = self.language_model.model if self.language_model else None
        return (
            f"BeamDecoder(lm={str(lm)!r}, alpha={self.alpha}, beta={self.beta}, "
            f"beam_width={self.beam_width}, hotwords={len(self.hotwords)})"
        )


_KEYS = itertools.count()
_FORKED: dict[int, BeamDecoder] = {}
"""Decoders being forked into pool workers, by key; each worker finds its own here."""


def _decode_in_worker(
    key: int, frame_s: float, terms: tuple[str, ...], item: tuple[np.ndarray, float]
) -> list[Word]:
    log_probs, start = item
    with call_terms(terms):  # the caller's terms, which a forked worker's context lacks
        return _FORKED[key].decode(log_probs, start, frame_s)


def _build_decoder(
    labels: list[str],
    files: LanguageModelFiles | None,
    unigrams: list[str] | None,
    attrs: dict[str, Any],
) -> Any:
    """pyctcdecode's decoder; kenlm loads quietly and memory-maps binary models."""
    import kenlm
    from pyctcdecode import Alphabet, BeamSearchDecoderCTC, LanguageModel

    with _quiet_pyctcdecode():
        alphabet = Alphabet.build_alphabet(labels)
        if files is None:
            return BeamSearchDecoderCTC(alphabet, None)
        config = kenlm.Config()
        config.show_progress = False
        config.arpa_complain = kenlm.ARPALoadComplain.NONE
        try:
            model = kenlm.Model(str(files.model), config)
        except (OSError, RuntimeError) as e:
            detail = " ".join(str(e).split())[-200:]
            raise ModelError(f"cannot load the language model {files.model}: {detail}") from e
        language_model = LanguageModel(
            model,
            unigrams,
            unk_score_offset=float(attrs.get("unk_score_offset", -10.0)),
            score_boundary=bool(attrs.get("score_boundary", True)),
        )
        return BeamSearchDecoderCTC(alphabet, language_model)


class _DropNoise(logging.Filter):
    """Hide pyctcdecode's notes that are expected here (small unigram lists, label style)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Only %s unigrams", "Alphabet determined"))


@contextlib.contextmanager
def _quiet_pyctcdecode() -> Iterator[None]:
    names = ("pyctcdecode.alphabet", "pyctcdecode.decoder", "pyctcdecode.language_model")
    loggers = [logging.getLogger(name) for name in names]
    noise = _DropNoise()
    for logger in loggers:
        logger.addFilter(noise)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(noise)


def default_workers() -> int:
    """Beam-search processes: one per available core (at most 8) where fork works (Linux);
    elsewhere 1, decoding in this process."""
    if sys.platform != "linux" or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))
