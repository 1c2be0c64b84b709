"""One loader per file type; `load_document` picks it by extension and checks the basics."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.csv_file import load_csv
from ingest.loaders.docx import load_docx
from ingest.loaders.email_message import load_eml
from ingest.loaders.epub import load_epub
from ingest.loaders.html import load_html
from ingest.loaders.image import load_image
from ingest.loaders.markdown import load_markdown
from ingest.loaders.ocr import OcrOptions
from ingest.loaders.pdf import load_pdf
from ingest.loaders.pdf_ocr import has_scanned_pages
from ingest.loaders.pptx import load_pptx
from ingest.loaders.text import load_text
from ingest.loaders.xlsx import load_xlsx
from rag.errors import InvalidInput, TooLarge, UnsupportedType

LOADERS: dict[str, Callable[[bytes], LoadedDocument]] = {
    ".txt": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".docx": load_docx,
    ".csv": load_csv,
    ".xlsx": load_xlsx,
    ".pptx": load_pptx,
    ".epub": load_epub,
}
# Loaders that may run OCR, called with the OCR settings too.
OCR_LOADERS: dict[str, Callable[[bytes, OcrOptions], LoadedDocument]] = {
    ".pdf": load_pdf,
    ".png": load_image,
    ".jpg": load_image,
    ".jpeg": load_image,
    ".tif": load_image,
    ".tiff": load_image,
    # attachments through the registry, scans and images among them with the same OCR settings
    ".eml": lambda data, ocr: load_eml(data, partial(load_bytes, ocr=ocr)),
}
# What each loader reads, for serving a document's original file.
MEDIA_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".eml": "message/rfc822",
    ".epub": "application/epub+zip",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}

# How the loaders turn files into text, as part of every document's version: when it changes (Markdown
# rendered, PDF furniture removed, tables as Markdown rows), ingesting an unchanged file again stores its new
# text, not "unchanged". text-4: PDF pages without a text layer read by OCR. text-5: an HTML title said once.
# text-6: an HTML or EPUB heading stands alone between blank lines, and an e-mail's attachments are
# documents of their own, no longer part of its text.
TEXT_RECIPE = "text-6"

__all__ = [
    "LOADERS", "MEDIA_TYPES", "OCR_LOADERS", "TEXT_RECIPE", "LoadedDocument", "OcrOptions", "Page", "is_supported",
    "load_bytes", "needs_ocr", "supported_types",
]  # fmt: skip


def needs_ocr(filename: str, path: Path, mode: str) -> bool:
    """Whether reading this file runs OCR (seconds a page): an image, or a PDF with a scanned page."""
    suffix = Path(filename).suffix.lower()
    if mode == "off" or suffix not in OCR_LOADERS or suffix == ".eml":
        return False
    if suffix != ".pdf" or mode == "force":
        return True
    return has_scanned_pages(str(path))


def supported_types() -> list[str]:
    return sorted({*LOADERS, *OCR_LOADERS})


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS or path.suffix.lower() in OCR_LOADERS


def load_bytes(filename: str, data: bytes, max_bytes: int, ocr: OcrOptions | None = None) -> LoadedDocument:
    """Parse one file's bytes (scans and images through OCR, as `ocr` says); raise a RagError with a reason a
    person can act on."""
    suffix = Path(filename).suffix.lower()
    loader = LOADERS.get(suffix)
    if suffix in OCR_LOADERS:
        ocr_loader, options = OCR_LOADERS[suffix], ocr or OcrOptions()
        loader = lambda data: ocr_loader(data, options)  # noqa: E731
    if loader is None:
        supported = ", ".join(supported_types())
        raise UnsupportedType(f"unsupported file type '{Path(filename).suffix or filename}' (supported: {supported})")
    if not data:
        raise InvalidInput("empty file (0 bytes)")
    if len(data) > max_bytes:
        raise TooLarge(f"file is {len(data):,} bytes, over the limit of {max_bytes:,} bytes")
    document = loader(data)
    if not any(page.text.strip() for page in document.pages):
        raise InvalidInput("no extractable text")
    return document
