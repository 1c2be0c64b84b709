"""The per-file step before the encoder: read a source, skip it if unchanged, load its pages and cut its chunks.

It runs in the pipeline's reader thread; a file that fails here fails alone, with a reason and a status.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ingest.chunking import Chunker
from ingest.loaders import LoadedDocument, OcrOptions, load_bytes
from ingest.loaders.base import Attachment
from ingest.loaders.ocr import Progress
from ingest.names import clean_name
from ingest.sources import ATTACHED_TO, ATTACHMENT, FileResult, Source, failed_result, unchanged_result
from rag.config import Settings
from rag.errors import RagError, TooLarge
from rag.storage.clock import now
from rag.storage.registry.types import Registry
from rag.text.headings import chunk_context, section_label
from rag.text.instructions import FLAG_KEY, REASON_KEY, find_instructions
from rag.types import Chunk

log = logging.getLogger(__name__)

# Chunk metadata the pipeline writes itself: a user's metadata under these names is dropped.
RESERVED_KEYS = {"document_id", "collection", "filename", "page", "chunk_index", "start_char", "end_char",
                 "sha256", "document_sha256", "version", "ingested_at", "section", "context",
                 FLAG_KEY, REASON_KEY}  # fmt: skip


@dataclass
class PreparedDocument:
    """A file read, loaded and chunked, waiting for its vectors."""

    source: Source
    document_id: str
    data_sha: str
    version: str
    document: LoadedDocument
    chunks: list[Chunk]
    # A message's attachments, each a document of its own written with it (ingest/storing.py); None for a
    # file that cannot hold any (only those that can are checked for attachments an older version left).
    attachments: list[PreparedDocument] | None = None

    def all_chunks(self) -> list[Chunk]:
        """Its chunks, then its attachments': the order its vectors come in."""
        return [*self.chunks, *(c for a in self.attachments or [] for c in a.chunks)]


Report = Callable[[int, FileResult], None]
PageProgress = Callable[[int, int, int], None]  # (file index, pages read by OCR, pages to read in that file)


class ReadingStopped(Exception):
    """The ingestion was stopped while OCR read a file's pages: it stops between two pages, not after the file."""


class DocumentPreparer:
    """Turns sources into prepared documents; `recipe` (encoder and chunk sizes) is part of each version, so
    changing how documents are cut or encoded makes every document new again."""

    def __init__(self, settings: Settings, chunker: Chunker, registry: Registry, recipe: bytes) -> None:
        self.settings = settings
        self.chunker = chunker
        self.registry = registry
        self.recipe = recipe

    def read_all(
        self,
        sources: list[Source],
        ids: list[str | FileResult],
        collection: str,
        out: queue.Queue[tuple[int, PreparedDocument] | None],
        report: Report,
        stop: threading.Event,
        pages: PageProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        """Prepare each source in order into `out` (then None), reporting at once those that need no encoding;
        `pages` hears of each page OCR reads, and setting `cancel` stops OCR between two pages."""
        try:
            for index, (source, document_id) in enumerate(zip(sources, ids, strict=True)):
                if stop.is_set():
                    return
                if isinstance(document_id, FileResult):  # no usable id of its own
                    report(index, document_id)
                    continue
                try:
                    item = self.prepare(source, collection, document_id, _page_progress(index, pages, cancel))
                except ReadingStopped:
                    return
                except RagError as exc:
                    report(index, failed_result(source.filename, document_id, exc.message, exc.status_code))
                    continue
                except Exception as exc:  # a parser bug must not take the batch down
                    log.exception("unexpected error reading %s", source.filename)
                    report(index, failed_result(source.filename, document_id, f"{type(exc).__name__}: {exc}", 500))
                    continue
                if isinstance(item, FileResult):
                    report(index, item)
                else:
                    out.put((index, item))
        finally:
            out.put(None)

    def prepare(
        self, source: Source, collection: str, document_id: str, ocr_progress: Progress | None = None
    ) -> PreparedDocument | FileResult:
        """The document ready for encoding, or `unchanged` when this version with this metadata is stored."""
        if source.size > self.settings.max_file_bytes:
            limit = self.settings.max_file_bytes
            raise TooLarge(f"file is {source.size:,} bytes, over the limit of {limit:,} bytes")
        data = source.read()
        data_sha = hashlib.sha256(data).hexdigest()
        version = hashlib.sha256(self.recipe + data_sha.encode()).hexdigest()[:16]
        existing = self.registry.get(collection, document_id)
        if existing and existing.version == version and existing.metadata == source.metadata:
            return unchanged_result(source.filename, document_id, existing)
        ocr = OcrOptions(self.settings.ocr, self.settings.ocr_languages, ocr_progress)
        kind = source.kind or source.filename
        document = load_bytes(kind, data, self.settings.max_file_bytes, ocr)
        chunks = self.chunks(source, collection, document_id, data_sha, version, document)
        if Path(kind).suffix.lower() != ".eml":
            return PreparedDocument(source, document_id, data_sha, version, document, chunks)
        attachments = [self._attachment(source, collection, document_id, a) for a in document.attachments]
        document = replace(document, attachments=[])  # their bytes and text live on in `attachments`
        return PreparedDocument(source, document_id, data_sha, version, document, chunks, attachments)

    def _attachment(self, message: Source, collection: str, message_id: str, file: Attachment) -> PreparedDocument:
        """An attachment as a document of its own: its id and name under the message's (`mail.eml/a.pdf`), the
        message's metadata (a filter or a key's scope that sees the message sees it) and a link to the message."""
        metadata = {**message.metadata, ATTACHED_TO: message_id, ATTACHMENT: file.name}
        source = Source.from_bytes(f"{message.filename}/{file.name}", file.data, metadata=metadata, kind=file.name)
        document_id = clean_name(f"{message_id}/{file.name}")
        data_sha = hashlib.sha256(file.data).hexdigest()
        version = hashlib.sha256(self.recipe + data_sha.encode()).hexdigest()[:16]
        chunks = self.chunks(source, collection, document_id, data_sha, version, file.document)
        return PreparedDocument(source, document_id, data_sha, version, file.document, chunks)

    def chunks(
        self, source: Source, collection: str, document_id: str, data_sha: str, version: str, doc: LoadedDocument
    ) -> list[Chunk]:
        """The document's chunks, each with its place in the document, the user's metadata and whether its text
        gives orders to an AI (answers keep such chunks out of the prompt, the API and the page show it)."""
        stamp = now()
        user_meta = {k: v for k, v in source.metadata.items() if k not in RESERVED_KEYS}
        chunks = []
        name = document_id if "/" in document_id else source.filename  # a folder's index.md: named by its folder
        for index, piece in enumerate(self.chunker.split(doc)):
            meta: dict[str, Any] = {
                **user_meta,
                "document_id": document_id,
                "collection": collection,
                "filename": source.filename,
                "chunk_index": index,
                "start_char": piece.start_char,
                "end_char": piece.end_char,
                "sha256": hashlib.sha256(piece.text.encode()).hexdigest(),
                "document_sha256": data_sha,
                "version": version,
                "ingested_at": stamp,
            }
            if piece.page is not None:
                meta["page"] = piece.page
            if piece.section:
                meta["section"] = section_label(piece.section)
            if self.settings.chunk_headers and (context := chunk_context(doc.title, name, piece.section)):
                meta["context"] = context  # embedded and keyword-indexed before the text (rag/text/headings.py)
            finding = find_instructions(piece.text)
            meta[FLAG_KEY] = finding is not None
            if finding is not None:
                meta[REASON_KEY] = finding.reason
            chunks.append(Chunk(f"{document_id}#{version}#{index}", document_id, collection, piece.text, meta))
        return chunks


def _page_progress(index: int, pages: PageProgress | None, cancel: threading.Event | None) -> Progress | None:
    if pages is None and cancel is None:
        return None

    def on_page(done: int, total: int) -> None:
        if cancel is not None and cancel.is_set():
            raise ReadingStopped
        if pages is not None:
            pages(index, done, total)

    return on_page
