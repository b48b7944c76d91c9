"""Transcripts to spaCy Docs and back, keeping every token's time, speaker and score.

A transcript word becomes one or more spaCy tokens (the pipeline's own tokenizer splits
``"мир!"`` into ``"мир"`` and ``"!"``), each carrying the word's ``._.start``, ``._.end``,
``._.speaker`` and ``._.score``. Going back, tokens joined without whitespace form one word that
spans the first token's start to the last token's end.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from spacy.tokens import Doc, Span, Token

from asr_pipeline import Segment, Transcript, Word

from .extensions import register_extensions

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = ["build_doc", "is_timed", "span_time", "to_doc", "to_transcript"]

SENTENCE_END = re.compile(r"[.!?…]+[\"'»”’)\]]*$")
"""A word ending a sentence: final marks, then any closing quotes or brackets."""


def to_doc(transcript: Transcript, nlp: Language, *, process: bool = True) -> Doc:
    """A Doc of a transcript whose tokens carry ``._.start/_.end/_.speaker/_.score``.

    Punctuation attached to a word becomes its own token with the word's time. Sentences start
    after a word ending in ``.``, ``!``, ``?`` or ``…`` and where the speaker changes.
    ``process=True`` runs ``nlp``'s components over the Doc (NER, matchers...); ``False`` only
    tokenizes.
    """
    register_extensions()
    doc = build_doc(nlp.make_doc, transcript, timed=True)
    return nlp(doc) if process else doc


def build_doc(make_doc: Callable[[str], Doc], transcript: Transcript, *, timed: bool = True) -> Doc:
    """Tokenize a transcript's words (joined by single spaces) and annotate every token.

    ``timed=False`` leaves ``._.start`` and ``._.end`` as None (the words' times are
    placeholders). Every token's ``is_sent_start`` is set, as spaCy's sentencizer does.
    """
    register_extensions()
    entries = [
        (word.text.strip(), word, segment.speaker)
        for segment in transcript.segments
        for word in segment.words
        if word.text.strip()
    ]
    doc = make_doc(" ".join(text for text, _, _ in entries))
    offsets = []
    position = 0
    for text, _, _ in entries:
        offsets.append(position)
        position += len(text) + 1
    sentence_starts = _sentence_starts([(text, speaker) for text, _, speaker in entries])
    for token in doc:
        index = bisect_right(offsets, token.idx) - 1
        _, word, speaker = entries[index]
        if timed:
            token._.start = word.start
            token._.end = word.end
        token._.speaker = speaker
        token._.score = word.score
        token.is_sent_start = sentence_starts[index] and token.idx == offsets[index]
    return doc


def _sentence_starts(words: list[tuple[str, str | None]]) -> list[bool]:
    starts = []
    for index, (_, speaker) in enumerate(words):
        if index == 0:
            starts.append(True)
            continue
        previous_text, previous_speaker = words[index - 1]
        starts.append(speaker != previous_speaker or bool(SENTENCE_END.search(previous_text)))
    return starts


def to_transcript(doc: Doc) -> Transcript:
    """A transcript of a Doc: one word per run of tokens joined without whitespace.

    A word spans its tokens' first ``._.start`` to last ``._.end`` (0.0 where untimed) and takes
    their lowest ``._.score``; consecutive words of one ``._.speaker`` form a segment.
    Whitespace-only tokens are dropped.
    """
    register_extensions()
    segments: list[Segment] = []
    words: list[Word] = []
    speaker: str | None = None
    for run in _word_runs(doc):
        run_speaker = next((t._.speaker for t in run if t._.speaker is not None), None)
        if words and run_speaker != speaker:
            segments.append(_segment(words, speaker))
            words = []
        speaker = run_speaker
        words.append(_word(run))
    if words:
        segments.append(_segment(words, speaker))
    return Transcript(segments=tuple(segments))


def _word_runs(doc: Doc) -> Iterator[list[Token]]:
    run: list[Token] = []
    for token in doc:
        if token.is_space:
            if run:
                yield run
            run = []
            continue
        run.append(token)
        if token.whitespace_:
            yield run
            run = []
    if run:
        yield run


def _word(tokens: list[Token]) -> Word:
    start, end = span_time(tokens)
    scores = [t._.score for t in tokens if t._.score is not None]
    start = 0.0 if start is None else start
    return Word(
        "".join(t.text for t in tokens),
        start,
        start if end is None else end,
        min(scores) if scores else None,
    )


def _segment(words: list[Word], speaker: str | None) -> Segment:
    return Segment(words[0].start, max(w.end for w in words), tuple(words), speaker)


def is_timed(doc: Doc) -> bool:
    """Whether any token of the Doc carries a ``._.start`` time."""
    register_extensions()
    return any(token._.start is not None for token in doc)


def span_time(span: Span | Doc | Token | Iterable[Token]) -> tuple[float | None, float | None]:
    """``(start, end)`` in seconds of a span (an entity, a match...): its tokens' earliest
    ``._.start`` and latest ``._.end``; ``(None, None)`` for untimed tokens."""
    register_extensions()
    tokens = [span] if isinstance(span, Token) else list(span)
    starts = [t._.start for t in tokens if t._.start is not None]
    ends = [t._.end for t in tokens if t._.end is not None]
    return (min(starts) if starts else None, max(ends) if ends else None)
