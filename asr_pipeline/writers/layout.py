"""What txt, md and docx share: paragraph blocks, title, metadata rows, review marks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

from ..reading import CLOSING, Paragraph, clock, is_timed, paragraphs
from ..types import Transcript, Word

__all__ = [
    "Block",
    "DocumentWriter",
    "blocks",
    "created_at",
    "document_title",
    "metadata_rows",
    "needs_review",
    "split_punctuation",
]

DEFAULT_TITLE = "Расшифровка"
_LEADING = "«\"“'([—–-"


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph as a document shows it: its ``HH:MM:SS`` stamp and speaker label (when
    shown) and its words."""

    timestamp: str | None
    speaker: str | None
    paragraph: Paragraph

    @property
    def words(self) -> tuple[Word, ...]:
        return self.paragraph.words


def blocks(
    transcript: Transcript, *, pause_s: float, max_chars: int, timestamps: bool
) -> Iterator[Block]:
    """Paragraphs with a stamp at each (when ``timestamps`` and the words carry times) and the
    speaker named at the start of each turn."""
    stamped = timestamps and is_timed(transcript)
    for paragraph in paragraphs(transcript, pause_s=pause_s, max_chars=max_chars):
        yield Block(
            clock(paragraph.start) if stamped else None,
            paragraph.speaker if paragraph.first_of_turn else None,
            paragraph,
        )


def document_title(transcript: Transcript, title: str | None) -> str:
    """``title`` when given, else the source file's name without extension."""
    if title:
        return title
    if transcript.source:
        return PurePath(transcript.source).stem or DEFAULT_TITLE
    return DEFAULT_TITLE


def metadata_rows(transcript: Transcript) -> list[tuple[str, str]]:
    """``(label, value)`` rows: source, duration, date, model and revision, stages (each only
    when known)."""
    meta = transcript.metadata
    rows = []
    if transcript.source:
        rows.append(("Файл", PurePath(transcript.source).name))
    if transcript.duration is not None:
        rows.append(("Длительность", clock(transcript.duration)))
    created = created_at(transcript)
    if created is not None:
        zone = " UTC" if created.utcoffset() == dt.timedelta(0) else created.strftime(" %z")
        rows.append(("Дата", created.strftime("%Y-%m-%d %H:%M") + zone.rstrip()))
    elif meta.created:
        rows.append(("Дата", meta.created))
    if meta.model:
        rows.append(("Модель", f"{meta.model} ({meta.revision})" if meta.revision else meta.model))
    if meta.stages:
        rows.append(("Этапы", ", ".join(meta.stages)))
    return rows


def created_at(transcript: Transcript) -> dt.datetime | None:
    """``metadata.created`` as a time (UTC if it names no zone); None if absent or unreadable."""
    text = transcript.metadata.created
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def needs_review(word: Word, review_below: float | None) -> bool:
    """Whether a word's confidence is under the review threshold (None: never)."""
    return review_below is not None and word.score is not None and word.score < review_below


def split_punctuation(text: str) -> tuple[str, str, str]:
    """``(leading, word, trailing)`` punctuation, so a mark covers the word alone.

    >>> split_punctuation("«слово»,")
    ('«', 'слово', '»,')
    """
    core = text.lstrip(_LEADING)
    lead = text[: len(text) - len(core)]
    stripped = core.rstrip(CLOSING + ".,;:!?…")
    if not stripped:
        return "", text, ""
    return lead, stripped, core[len(stripped) :]


class DocumentWriter:
    """The options md and docx share: a title, a metadata table, timestamped paragraphs.

    Subclasses set ``extension`` and ``binary``, describe ``review_below`` in their own
    docstring's ``Options:`` (the rest are inherited from here), and may check their
    dependencies in :meth:`_check_dependencies`.

    Options:
        title: the document's title; default: the source file's name.
        pause_s: a sentence end followed by a pause this long (seconds) ends a paragraph.
        max_chars: a paragraph this long ends at its next sentence end (or, with none in sight,
            at twice this length); 0 for no limit.
        timestamps: start each paragraph with its time, [HH:MM:SS].
        metadata: write the table of source, duration, date, model and stages.
    """

    def __init__(
        self,
        *,
        title: str | None = None,
        pause_s: float = 1.5,
        max_chars: int = 800,
        timestamps: bool = True,
        metadata: bool = True,
        review_below: float | None = None,
    ) -> None:
        self._check_dependencies()
        self.title = title
        self.pause_s = pause_s
        self.max_chars = max_chars
        self.timestamps = timestamps
        self.metadata = metadata
        self.review_below = review_below

    def _check_dependencies(self) -> None:
        """Raise before any work when the format needs a library that is missing."""

    def blocks(self, transcript: Transcript) -> Iterator[Block]:
        """The document's paragraph blocks under these options."""
        return blocks(
            transcript, pause_s=self.pause_s, max_chars=self.max_chars, timestamps=self.timestamps
        )
