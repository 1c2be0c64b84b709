"""Word .docx via python-docx: paragraphs and tables in document order, tables as Markdown rows; heading styles
as section paths."""

from __future__ import annotations

import io
import zipfile

from ingest.loaders.archive import check_archive
from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.locked import check_not_locked
from ingest.loaders.sections import SectionTracker
from ingest.loaders.tables import markdown_table
from rag.errors import InvalidInput


def load_docx(data: bytes) -> LoadedDocument:
    import docx
    from docx.table import Table
    from lxml.etree import LxmlError  # lxml parses the XML inside: too deep or huge nodes raise XMLSyntaxError

    check_not_locked(data, ".docx")
    check_archive(data, ".docx")  # before python-docx builds the whole XML tree in memory
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = [
            (markdown_table(_cells(block)), None) if isinstance(block, Table) else (block.text, _heading_level(block))
            for block in document.iter_inner_content()
        ]
    except (zipfile.BadZipFile, KeyError, ValueError, LxmlError) as exc:
        raise InvalidInput(f"corrupt or unreadable .docx ({type(exc).__name__}: {exc})") from exc
    tracker, offset, texts = SectionTracker(), 0, []
    for text, level in blocks:
        if not text.strip():
            continue
        if level is not None:
            tracker.heading(level, text, offset)
        texts.append(text)
        offset += len(text) + 1
    return LoadedDocument(pages=[Page("\n".join(texts), sections=tuple(tracker.sections))])


def _heading_level(paragraph) -> int | None:  # type: ignore[no-untyped-def]
    """1-9 for Word's "Heading N" styles (and any style based on one), 0 for "Title"; None for body text."""
    style = paragraph.style
    while style is not None:
        name = (style.name or "").strip().lower()
        if name == "title":
            return 0
        if name.startswith("heading ") and name[8:].isdigit():
            return int(name[8:])
        style = style.base_style
    return None


def _cells(table) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """The table's text cell by cell; a merged cell's text stands in each column it spans."""
    return [[cell.text for cell in row.cells] for row in table.rows]
