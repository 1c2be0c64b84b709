"""Word .docx via python-docx: paragraphs and table cells in document order."""

from __future__ import annotations

import io
import zipfile

from ingest.loaders.archive import check_archive
from ingest.loaders.base import LoadedDocument, Page
from rag.errors import InvalidInput


def load_docx(data: bytes) -> LoadedDocument:
    import docx
    from lxml.etree import LxmlError  # lxml parses the XML inside: too deep or huge nodes raise XMLSyntaxError

    check_archive(data, ".docx")  # before python-docx builds the whole XML tree in memory
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, LxmlError) as exc:
        raise InvalidInput(f"corrupt or unreadable .docx ({type(exc).__name__}: {exc})") from exc
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return LoadedDocument(pages=[Page("\n".join(line for line in lines if line.strip()))])
