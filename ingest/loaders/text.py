"""Plain text (and the source of Markdown, HTML and CSV): decoded from whatever encoding it was saved in."""

from __future__ import annotations

from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.encoding import decode_text


def load_text(data: bytes) -> LoadedDocument:
    return LoadedDocument(pages=[Page(decode_text(data))])
