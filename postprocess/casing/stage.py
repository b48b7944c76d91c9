"""The ``casing`` stage: capitals restored on a transcript's words, timings kept."""

from __future__ import annotations

from typing import Annotated

from asr_pipeline.config import File, Range
from asr_pipeline.errors import ConfigError
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
            foreign names (Сырбу); false for recognizer output with many misspelt words.
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
        unknown_words: bool = True,
        keep_existing: bool = True,
    ) -> None:
        if not 0.0 <= min_score <= 1.0:
            raise ConfigError(f"expected a score between 0 and 1, got {min_score}", "min_score")
        terms = read_vocabulary(vocabulary) if vocabulary else ()
        self.rules = CasingRules(
            min_score=min_score,
            names=names,
            keep_existing=keep_existing,
            quotes=quotes,
            unknown_words=unknown_words,
            forms=FormIndex(shipped_forms()) if lexicon and names else None,
            vocabulary=FormIndex(terms) if terms else None,
        )

    def __call__(self, transcript: Transcript) -> Transcript:
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
        return transcript.with_texts(restore_casing(texts, self.rules, starts=starts))

    def restore(self, text: str) -> str:
        """Capitals restored on plain text (words split on spaces)."""
        return " ".join(restore_casing(text.split(), self.rules))
