"""Plain text and Markdown: strict UTF-8 (a BOM is accepted)."""

from __future__ import annotations

from ingest.loaders.base import LoadedDocument, Page
from rag.errors import InvalidInput


def load_text(data: bytes) -> LoadedDocument:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"not valid UTF-8 text (invalid byte at offset {exc.start}); re-save it as UTF-8") from exc
    if "\x00" in text:
        raise InvalidInput("looks like a binary file, not text (contains NUL bytes)")
    return LoadedDocument(pages=[Page(text)])
