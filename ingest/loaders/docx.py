"""Word .docx via python-docx: paragraphs and tables in document order, tables as Markdown rows."""

from __future__ import annotations

import io
import zipfile

from ingest.loaders.archive import check_archive
from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.locked import check_not_locked
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
            markdown_table(_cells(block)) if isinstance(block, Table) else block.text
            for block in document.iter_inner_content()
        ]
    except (zipfile.BadZipFile, KeyError, ValueError, LxmlError) as exc:
        raise InvalidInput(f"corrupt or unreadable .docx ({type(exc).__name__}: {exc})") from exc
    return LoadedDocument(pages=[Page("\n".join(block for block in blocks if block.strip()))])


def _cells(table) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """The table's text cell by cell; a merged cell's text stands in each column it spans."""
    return [[cell.text for cell in row.cells] for row in table.rows]
