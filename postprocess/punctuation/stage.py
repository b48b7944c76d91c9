"""The ``punctuation`` stage: token classification over all words of a transcript."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Annotated

from asr_pipeline.config import Range
from asr_pipeline.errors import ConfigError, MissingDependencyError
from asr_pipeline.types import Segment, Transcript, Word

from .labels import LabelScheme, WordLabel, labels_from_list, parse_labels
from .text import apply_label, model_input
from .windows import first_tokens, pick_windows, plan_windows

if TYPE_CHECKING:
    from .model import TokenClassifier

__all__ = ["DEFAULT_MODEL", "PunctuationStage", "join_hyphenated", "speaker_runs"]

DEFAULT_MODEL = "kontur-ai/sbert_punc_case_ru"


class PunctuationStage:
    """Restore punctuation and capitals with a token-classification model; word timings stay.

    Options:
        model: hub id or local folder of a token-classification model with plain labels
            (0 . , ? - :) or CASE_PUNCT labels (LOWER_, UPPER_, UPPER_TOTAL_ with O, PERIOD...).
        revision: hub revision (branch, tag or commit) to load; None for the default branch.
        labels: label names in output order, for a model whose config only says LABEL_0, LABEL_1...
        device: auto (a CUDA GPU when there is one, else the CPU), cpu, cuda or cuda:N.
        window: tokens per model window, special tokens included (lowered to the model's limit).
        overlap: tokens shared by neighbouring windows; each word is read from the window where it
            lies farthest from an edge.
        batch_size: windows per forward pass.
        apply_case: apply the case part of CASE_PUNCT labels (capitals); false keeps letters as they
            are and adds marks only.
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        revision: str | None = None,
        labels: list[str] | None = None,
        device: str = "auto",
        window: Annotated[int, Range(ge=1)] = 256,
        overlap: Annotated[int, Range(ge=0)] = 64,
        batch_size: Annotated[int, Range(ge=1)] = 8,
        apply_case: bool = True,
    ) -> None:
        if overlap < 0:
            raise ConfigError("must be 0 or more", "stages.punctuation.overlap")
        if batch_size < 1:
            raise ConfigError("must be 1 or more", "stages.punctuation.batch_size")
        try:
            from .model import TokenClassifier, resolve_device
        except ImportError as e:
            raise MissingDependencyError("punctuation", "punctuation", "transformers") from e

        self.model_name = model
        self.revision = revision
        self.classifier: TokenClassifier = TokenClassifier.load(
            model, revision, resolve_device(device)
        )
        num_labels = self.classifier.num_labels
        if labels:
            self.scheme: LabelScheme = parse_labels(
                labels_from_list(labels, num_labels), num_labels, "stages.punctuation.labels"
            )
        else:
            self.scheme = parse_labels(self.classifier.config.id2label, num_labels)
        self.classifier.allowed = sorted(self.scheme.labels)

        limit = self.classifier.max_tokens
        self.window = min(window, limit) if limit else window
        self.content = self.window - self.classifier.specials
        if self.content <= overlap:
            raise ConfigError(
                f"must be smaller than the window's {self.content} text tokens "
                f"(window {self.window} less {self.classifier.specials} special tokens)",
                "stages.punctuation.overlap",
            )
        self.overlap = overlap
        self.batch_size = batch_size
        self.apply_case = apply_case

    def __call__(self, transcript: Transcript) -> Transcript:
        return next(self.pipe([transcript]))

    def pipe(self, transcripts: Iterable[Transcript]) -> Iterator[Transcript]:
        """Punctuate several transcripts, their windows classified in shared batches."""
        batch = list(transcripts)
        runs = [speaker_runs(t) for t in batch]
        predicted = iter(self.word_labels([run for parts in runs for run in parts]))
        for transcript, parts in zip(batch, runs, strict=True):
            labels = [label for _ in parts for label in next(predicted)]
            yield self._apply(transcript, labels)

    def word_labels(self, texts: Sequence[Sequence[str]]) -> list[list[WordLabel | None]]:
        """One label per word of each text (None for a word with no tokens, left as it is).

        A text is tokenized whole, cut into overlapping windows of tokens, and each word takes
        the label of its first sub-token from the window where that token lies farthest from an
        edge.
        """
        encoded = self.classifier.encode([[model_input(w) for w in words] for words in texts])
        plans = [plan_windows(len(e.ids), self.content, self.overlap) for e in encoded]
        windows = [
            e.ids[start:end] for e, plan in zip(encoded, plans, strict=True) for start, end in plan
        ]
        predictions = self.classifier.classify(windows, self.batch_size) if windows else []

        result: list[list[WordLabel | None]] = []
        done = 0
        for words, e, plan in zip(texts, encoded, plans, strict=True):
            firsts = first_tokens(e.word_ids, len(words))
            labels: list[WordLabel | None] = []
            for pick in pick_windows(firsts, plan):
                if pick is None:
                    labels.append(None)
                else:
                    window, offset = pick
                    labels.append(self.scheme.labels.get(predictions[done + window][offset]))
            result.append(labels)
            done += len(plan)
        return result

    def _apply(self, transcript: Transcript, labels: Sequence[WordLabel | None]) -> Transcript:
        texts = [
            apply_label(word.text, label, apply_case=self.apply_case)
            for word, label in zip(transcript.words, labels, strict=True)
        ]
        result = transcript.with_texts(texts)
        joins = {i for i, label in enumerate(labels) if label is not None and label.joins_next}
        if joins:
            result = join_hyphenated(result, joins)
        extra = {**result.metadata.extra, "punctuation_model": self.model_name}
        if self.revision:
            extra["punctuation_revision"] = self.revision
        return dataclasses.replace(
            result, metadata=dataclasses.replace(result.metadata, extra=extra)
        )


def speaker_runs(transcript: Transcript) -> list[list[str]]:
    """The words of a transcript as texts to punctuate: one per run of consecutive segments of
    the same speaker and channel. Segment boundaries inside a run are not sentence boundaries;
    a change of speaker is."""
    runs: list[list[str]] = []
    previous: tuple[str | None, int | None] | None = None
    for segment in transcript.segments:
        key = (segment.speaker, segment.channel)
        if not runs or key != previous:
            runs.append([])
            previous = key
        runs[-1].extend(word.text for word in segment.words)
    return runs


def join_hyphenated(transcript: Transcript, joins: set[int]) -> Transcript:
    """Merge each word whose index is in ``joins`` (it ends in a hyphen) with the next word of
    its segment: ``кто-`` + ``то`` = ``кто-то``, spanning both words' times."""
    counter = iter(range(len(transcript.words)))

    def merge(segment: Segment) -> Segment:
        words: list[Word] = []
        run: list[Word] = []
        for position, word in enumerate(segment.words):
            run.append(word)
            if next(counter) in joins and position < len(segment.words) - 1:
                continue
            words.append(run[0] if len(run) == 1 else Word.merge(run, "".join(w.text for w in run)))
            run = []
        return dataclasses.replace(segment, words=tuple(words))

    return transcript.map_segments(merge)
