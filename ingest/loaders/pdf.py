"""PDF via pypdf: text per page without its furniture, page numbers kept, sections from the outline, scanned
pages read by OCR (ingest/loaders/pdf_ocr.py); clear reasons for encrypted, corrupt or empty files."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.furniture import remove_page_furniture
from ingest.loaders.ocr import OcrOptions
from ingest.loaders.pdf_ocr import read_scans, scanned_pages
from ingest.loaders.pdf_outline import outline_sections
from ingest.loaders.pdf_tables import with_tables
from rag.errors import InvalidInput

logging.getLogger("pypdf").setLevel(logging.ERROR)


def load_pdf(data: bytes, ocr: OcrOptions | None = None) -> LoadedDocument:
    ocr = ocr or OcrOptions()
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidInput("encrypted PDF: remove the password and upload it again")
        texts = with_tables(data, reader, [page.extract_text() or "" for page in reader.pages])
    except InvalidInput:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InvalidInput(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    if not texts:
        raise InvalidInput("PDF has no pages")
    scans = scanned_pages(data, texts, ocr.mode)
    has_text = any(text.strip() for i, text in enumerate(texts) if i not in set(scans))
    recognised = read_scans(data, scans, ocr, has_text)
    for index, page in recognised.items():
        texts[index] = page.text
    texts = remove_page_furniture(texts)
    sections = outline_sections(reader, texts)  # a broken outline costs the headings, not the document
    pages = [Page(text, number, found) for number, (text, found) in enumerate(zip(texts, sections, strict=True), 1)]
    if not any(page.text.strip() for page in pages):
        reason = "OCR read no text on its pages" if recognised else "its pages hold neither text nor scanned images"
        raise InvalidInput(f"PDF has no extractable text: {reason}")
    title = (reader.metadata or {}).get("/Title") if reader.metadata else None
    ocr_pages = {index + 1: page for index, page in recognised.items()}
    return LoadedDocument(pages=pages, title=str(title) if title else None, ocr_pages=ocr_pages)
