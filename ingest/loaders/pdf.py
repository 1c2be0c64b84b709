"""PDF via pypdf: text per page without its furniture, page numbers kept, sections from the outline; clear
reasons for encrypted, corrupt or scanned files."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.furniture import remove_page_furniture
from ingest.loaders.pdf_outline import outline_sections
from ingest.loaders.pdf_tables import with_tables
from rag.errors import InvalidInput

logging.getLogger("pypdf").setLevel(logging.ERROR)


def load_pdf(data: bytes) -> LoadedDocument:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidInput("encrypted PDF: remove the password and upload it again")
        texts = remove_page_furniture(with_tables(data, reader, [page.extract_text() or "" for page in reader.pages]))
        sections = outline_sections(reader, texts)
        numbered = enumerate(zip(texts, sections, strict=True), start=1)
        pages = [Page(text, number, found) for number, (text, found) in numbered]
    except InvalidInput:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InvalidInput(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    if not pages:
        raise InvalidInput("PDF has no pages")
    if not any(page.text.strip() for page in pages):
        raise InvalidInput("PDF has no extractable text (scanned images? run OCR first)")
    title = (reader.metadata or {}).get("/Title") if reader.metadata else None
    return LoadedDocument(pages=pages, title=str(title) if title else None)
