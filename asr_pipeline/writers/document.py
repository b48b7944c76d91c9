"""The Word format (.docx, with python-docx): title, metadata table, timestamped paragraphs.

The file is reproducible: its document properties and the dates inside the zip come from the
transcript (``metadata.created``), so writing one transcript twice gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any, BinaryIO

from ..errors import MissingDependencyError
from ..types import Transcript
from .layout import (
    Block,
    DocumentWriter,
    created_at,
    document_title,
    metadata_rows,
    needs_review,
    split_punctuation,
)

__all__ = ["DocxWriter"]

_FALLBACK_DATE = dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)
"""The date given to a document whose transcript says nothing of when it was made."""
_TIMESTAMP_GREY = (0x80, 0x80, 0x80)


def _import_docx() -> Any:
    try:
        import docx
    except ImportError as e:
        raise MissingDependencyError("docx output", "docx", "python-docx") from e
    return docx


class DocxWriter(DocumentWriter):
    """A Word document (.docx): title, metadata table, timestamped paragraphs with speakers.

    Options:
        review_below: words whose confidence is under this are highlighted for review; null for
            none.
    """

    extension = "docx"
    binary = True

    def _check_dependencies(self) -> None:
        _import_docx()

    def write(self, transcript: Transcript, fp: BinaryIO, /) -> None:
        docx = _import_docx()
        document = docx.Document()
        title = document_title(transcript, self.title)
        created = created_at(transcript) or _FALLBACK_DATE
        _set_properties(document.core_properties, title, created)
        document.add_heading(title, level=0)
        rows = metadata_rows(transcript) if self.metadata else []
        if rows:
            table = document.add_table(rows=0, cols=2)
            table.style = document.styles["Table Grid"]
            for label, value in rows:
                cells = table.add_row().cells
                cells[0].text, cells[1].text = label, value
            document.add_paragraph()
        for block in self.blocks(transcript):
            self._paragraph(document.add_paragraph(), block)
        buffer = io.BytesIO()
        document.save(buffer)
        fp.write(_fixed_zip_dates(buffer.getvalue(), created))

    def _paragraph(self, paragraph: Any, block: Block) -> None:
        from docx.enum.text import WD_COLOR_INDEX
        from docx.shared import RGBColor

        if block.timestamp:
            run = paragraph.add_run(f"[{block.timestamp}] ")
            run.font.color.rgb = RGBColor(*_TIMESTAMP_GREY)
        if block.speaker:
            paragraph.add_run(f"{block.speaker}: ").bold = True
        plain: list[str] = []
        for index, word in enumerate(block.words):
            space = " " if index else ""
            if not needs_review(word, self.review_below):
                plain.append(space + word.text)
                continue
            lead, core, trail = split_punctuation(word.text)
            plain.append(space + lead)
            _add_text(paragraph, "".join(plain))
            paragraph.add_run(core).font.highlight_color = WD_COLOR_INDEX.YELLOW
            plain = [trail]
        _add_text(paragraph, "".join(plain))


def _add_text(paragraph: Any, text: str) -> None:
    if text:
        paragraph.add_run(text)


def _set_properties(properties: Any, title: str, created: dt.datetime) -> None:
    properties.title = title
    properties.author = "asr-pipeline"
    properties.last_modified_by = "asr-pipeline"
    properties.comments = ""
    properties.revision = 1
    properties.created = properties.modified = created.astimezone(dt.timezone.utc)


def _fixed_zip_dates(data: bytes, when: dt.datetime) -> bytes:
    """The same zip with every member dated ``when`` (the zip's own dates are the time of
    writing otherwise)."""
    stamp = max(when.astimezone(dt.timezone.utc), _FALLBACK_DATE).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            info = zipfile.ZipInfo(member.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(member.filename))
    return out.getvalue()
