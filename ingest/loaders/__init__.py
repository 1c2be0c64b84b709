"""One loader per file type; `load_document` picks it by extension and checks the basics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.csv_file import load_csv
from ingest.loaders.docx import load_docx
from ingest.loaders.email_message import load_eml
from ingest.loaders.epub import load_epub
from ingest.loaders.html import load_html
from ingest.loaders.markdown import load_markdown
from ingest.loaders.pdf import load_pdf
from ingest.loaders.pptx import load_pptx
from ingest.loaders.text import load_text
from ingest.loaders.xlsx import load_xlsx
from rag.errors import InvalidInput, TooLarge, UnsupportedType

LOADERS: dict[str, Callable[[bytes], LoadedDocument]] = {
    ".pdf": load_pdf,
    ".txt": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".docx": load_docx,
    ".csv": load_csv,
    ".xlsx": load_xlsx,
    ".pptx": load_pptx,
    ".eml": lambda data: load_eml(data, load_bytes),  # attachments through the registry
    ".epub": load_epub,
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
}

# How the loaders turn files into text, as part of every document's version: when it changes (Markdown
# rendered, PDF furniture removed, tables as Markdown rows, an HTML title said once), ingesting an unchanged
# file again stores its new text, not "unchanged".
TEXT_RECIPE = "text-4"

__all__ = ["LOADERS", "MEDIA_TYPES", "TEXT_RECIPE", "LoadedDocument", "Page", "is_supported", "load_bytes"]


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS


def load_bytes(filename: str, data: bytes, max_bytes: int) -> LoadedDocument:
    """Parse one file's bytes; raise a RagError with a reason a person can act on."""
    loader = LOADERS.get(Path(filename).suffix.lower())
    if loader is None:
        supported = ", ".join(sorted(LOADERS))
        raise UnsupportedType(f"unsupported file type '{Path(filename).suffix or filename}' (supported: {supported})")
    if not data:
        raise InvalidInput("empty file (0 bytes)")
    if len(data) > max_bytes:
        raise TooLarge(f"file is {len(data):,} bytes, over the limit of {max_bytes:,} bytes")
    document = loader(data)
    if not any(page.text.strip() for page in document.pages):
        raise InvalidInput("no extractable text")
    return document
