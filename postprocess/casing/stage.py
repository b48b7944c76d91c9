"""The ``casing`` stage: capitals restored on a transcript's words, timings kept."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from asr_pipeline.config import File, Range
from asr_pipeline.errors import ConfigError
from asr_pipeline.terms import current_terms
from asr_pipeline.types import Transcript

from ..vocabulary import read_vocabulary
from .lexicon import FormIndex, shipped_forms
from .rules import CasingRules, restore_casing

__all__ = ["CasingStage"]


class CasingStage:
    """Restore Russian capitals: sentence starts, names, places, organisations, acronyms.

    Options:
        vocabulary: path of a vocabulary file (one term per line, as written: Газпром,
            iPhone); its terms override every other rule, in every case form.
        names: capitalise names, surnames, places, organisations and acronyms (pymorphy3
            tags, shipped lists); false keeps sentence starts only.
        min_score: the pymorphy3 score a word's name/place/organisation parses must reach
            together for the word to take a capital (0..1).
        lexicon: use the shipped lists of acronyms (МВД, США) and multi-word names
            (Российская Федерация, Великая Отечественная война).
        quotes: capitalise the first word inside «quotes» (titles, quoted speech).
        unknown_words: capitalise words the dictionary does not know when they look like
            foreign names (Сырбу) or acronyms (КПИ), unless one edit from a known common word
            (None: for plain text only, not for recognised words, which carry a score:
            recognition output misspells words, and a misspelt word is unknown).
        keep_existing: keep words that already have capitals (from a punctuation model with
            case labels); false recases every word.
    """

    def __init__(
        self,
        *,
        vocabulary: Annotated[str | None, File()] = None,
        names: bool = True,
        min_score: Annotated[float, Range(ge=0, le=1)] = 0.5,
        lexicon: bool = True,
        quotes: bool = True,
        unknown_words: bool | None = None,
        keep_existing: bool = True,
    ) -> None:
        if not 0.0 <= min_score <= 1.0:
            raise ConfigError(f"expected a score between 0 and 1, got {min_score}", "min_score")
        terms = read_vocabulary(vocabulary) if vocabulary else ()
        self.terms = tuple(terms)
        self.rules = CasingRules(
            min_score=min_score,
            names=names,
            keep_existing=keep_existing,
            quotes=quotes,
            unknown_words=unknown_words is not False,
            forms=FormIndex(shipped_forms()) if lexicon and names else None,
            vocabulary=FormIndex(terms) if terms else None,
        )

        self.recognised_rules = (
            dataclasses.replace(self.rules, unknown_words=False)
            if unknown_words is None
            else self.rules
        )

    def __call__(self, transcript: Transcript) -> Transcript:
        recognised = any(word.score is not None for word in transcript.words)
        rules = self.recognised_rules if recognised else self.rules
        extra = current_terms()  # a request's own terms, for this call only
        if extra:
            rules = dataclasses.replace(rules, vocabulary=FormIndex((*self.terms, *extra)))
        texts: list[str] = []
        starts: list[bool] = []
        previous = None
        for segment in transcript.segments:
            for k, word in enumerate(segment.words):
                texts.append(word.text)
                starts.append(k == 0 and previous is not None and segment.speaker != previous)
            if segment.words:
                previous = segment.speaker
        if not texts:
            return transcript
        return transcript.with_texts(restore_casing(texts, rules, starts=starts))

    def restore(self, text: str) -> str:
        """Capitals restored on plain text (words split on spaces; unscored, so not treated
        as recognition output)."""
        return " ".join(restore_casing(text.split(), self.rules))
