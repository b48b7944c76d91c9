"""The reading layer: a transcript as speaker turns, paragraphs and sentences.

Writers build their layout from these, and so can a program that makes its own documents::

    for paragraph in transcript.paragraphs(pause_s=2.0):
        print(clock(paragraph.start), paragraph.speaker, paragraph.text)

Segments are read in time order (by start; ties keep their order). A **turn** is a run of
segments with the same speaker; turns never share a sentence or a paragraph. A **sentence** ends
at a word ending in ``.``, ``!``, ``?`` or ``…`` (closing quotes and brackets allowed after it).
A **paragraph** ends at a sentence end followed by a pause of at least ``pause_s`` seconds, or at
the first sentence end once it is ``max_chars`` long (at twice that length with no sentence end in
sight). In a transcript with no sentence punctuation at all, every long pause ends a paragraph.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .types import Word

if TYPE_CHECKING:
    from .types import Transcript

__all__ = [
    "Paragraph",
    "Passage",
    "Sentence",
    "Turn",
    "clock",
    "ends_sentence",
    "is_timed",
    "paragraphs",
    "sentences",
    "turns",
]

SENTENCE_END = (".", "!", "?", "…")
CLOSING = "»\"”')]"


def ends_sentence(text: str) -> bool:
    """Whether a word ends a sentence: ``"конец."``, ``"да?»"``; not ``"т.е"`` mid-word.

    >>> ends_sentence("коллеги."), ends_sentence("сказал:»"), ends_sentence("да?»")
    (True, False, True)
    """
    return text.rstrip(CLOSING).endswith(SENTENCE_END)


def clock(seconds: float) -> str:
    """``HH:MM:SS``, whole seconds rounded down (a paragraph at 12.9 s is at ``00:00:12``).

    >>> clock(754.9), clock(0), clock(360000)
    ('00:12:34', '00:00:00', '100:00:00')
    """
    total = max(0, int(seconds + 1e-6))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def is_timed(transcript: Transcript) -> bool:
    """False for a transcript whose words carry no times (``Transcript.from_text``)."""
    return any(w.end > 0 for w in transcript.words)


@dataclass(frozen=True, slots=True)
class Passage:
    """Words of one speaker in time order, with their span and text."""

    words: tuple[Word, ...]
    speaker: str | None = None
    turn: int = 0
    """The index of the speaker turn this passage belongs to (see :func:`turns`)."""

    @property
    def start(self) -> float:
        return self.words[0].start if self.words else 0.0

    @property
    def end(self) -> float:
        return max((w.end for w in self.words), default=0.0)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True, slots=True)
class Sentence(Passage):
    """One sentence (or, without punctuation, the rest of a turn)."""


@dataclass(frozen=True, slots=True)
class Paragraph(Passage):
    """One paragraph: whole sentences of one speaker."""

    first_of_turn: bool = True
    """Whether this paragraph starts its speaker turn (where writers name the speaker)."""

    @property
    def sentences(self) -> list[Sentence]:
        return [Sentence(w, self.speaker, self.turn) for w in _split_sentences(self.words)]


@dataclass(frozen=True, slots=True)
class Turn(Passage):
    """Everything one speaker says until another speaks."""


def turns(transcript: Transcript) -> list[Turn]:
    """Speaker turns in time order: runs of segments with the same speaker."""
    result: list[Turn] = []
    words: list[Word] = []
    speaker: str | None = None
    for segment in sorted((s for s in transcript.segments if s.words), key=lambda s: s.start):
        if words and segment.speaker != speaker:
            result.append(Turn(tuple(words), speaker, len(result)))
            words = []
        speaker = segment.speaker
        words.extend(segment.words)
    if words:
        result.append(Turn(tuple(words), speaker, len(result)))
    return result


def sentences(transcript: Transcript) -> list[Sentence]:
    """Sentences in time order; a speaker turn always ends a sentence."""
    return [
        Sentence(words, turn.speaker, turn.turn)
        for turn in turns(transcript)
        for words in _split_sentences(turn.words)
    ]


def paragraphs(
    transcript: Transcript, *, pause_s: float = 1.5, max_chars: int = 800
) -> list[Paragraph]:
    """Paragraphs in time order; a speaker turn always starts a new one.

    ``pause_s``: a sentence end followed by a pause this long ends a paragraph.
    ``max_chars``: a paragraph this long ends at its next sentence end, or at twice this length
    when none comes; 0 for no limit.
    """
    all_turns = turns(transcript)
    punctuated = any(ends_sentence(w.text) for t in all_turns for w in t.words)
    result: list[Paragraph] = []
    for turn in all_turns:
        pieces = _split_paragraphs(turn.words, pause_s, max_chars, punctuated)
        for index, words in enumerate(pieces):
            result.append(Paragraph(tuple(words), turn.speaker, turn.turn, index == 0))
    return result


def _split_sentences(words: Sequence[Word]) -> Iterator[tuple[Word, ...]]:
    current: list[Word] = []
    for word in words:
        current.append(word)
        if ends_sentence(word.text):
            yield tuple(current)
            current = []
    if current:
        yield tuple(current)


def _split_paragraphs(
    words: Sequence[Word], pause_s: float, max_chars: int, punctuated: bool
) -> Iterator[list[Word]]:
    current: list[Word] = []
    length = 0
    for word in words:
        if current:
            previous = current[-1]
            sentence_end = ends_sentence(previous.text)
            long_pause = word.start - previous.end >= pause_s
            too_long = max_chars > 0 and length >= max_chars
            if (
                (long_pause and (sentence_end or not punctuated))
                or (too_long and sentence_end)
                or (too_long and length >= 2 * max_chars)
            ):
                yield current
                current, length = [], 0
        current.append(word)
        length += len(word.text) + 1
    if current:
        yield current
