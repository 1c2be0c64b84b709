"""The ingestion pipeline: file bytes → pages → chunks → embeddings → Chroma + keyword index + registry.

Parsing and chunking run in a reader thread (ingest/preparing.py) and storage in a writer thread
(ingest/storing.py), so both hide behind the encoder, which is the bottleneck on a CPU; this module runs
the three and groups documents for the encoder. A crash leaves a pending registry row that `recover()`
(ingest/recovery.py) cleans up at the next writer's start, once the writer's lease shows it is gone.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from ingest.chunking import Chunker
from ingest.loaders import TEXT_RECIPE
from ingest.names import clean_name
from ingest.preparing import DocumentPreparer, PageProgress, PreparedDocument, Report
from ingest.recovery import recover_half_written
from ingest.sources import FileResult, ProgressCallback, Source, document_ids
from ingest.storing import DocumentWriter, Encoded
from rag.access import current_scope
from rag.config import Settings
from rag.errors import Forbidden
from rag.memory import return_freed_memory
from rag.retrieval.embeddings import Embedder, EncodingStopped
from rag.retrieval.keyword import KeywordIndex
from rag.storage.originals import OriginalStore
from rag.storage.registry.types import Registry
from rag.storage.vectors import VectorStore
from rag.telemetry import record_ingested
from rag.text.headings import with_context
from rag.validation import check_collection_name

# Where callers have always found them.
__all__ = ["FileResult", "IngestPipeline", "IngestStopped", "ProgressCallback", "Source", "document_ids"]

# Chunks gathered across documents before one encode call: big batches keep the encoder busy.
ENCODE_GROUP_CHUNKS = 256
# An ingestion or deletion of at least this many chunks (~100 KB of text) returns freed heap to the system.
TRIM_AFTER_CHUNKS = 100


class IngestStopped(Exception):
    """A background ingestion was asked to stop (server shutdown); running it again finishes it."""


class IngestPipeline:
    def __init__(
        self, settings: Settings, embedder: Embedder, store: VectorStore, keyword: KeywordIndex, registry: Registry
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.keyword = keyword
        self.registry = registry
        self.originals = OriginalStore(settings.originals_path)
        self.chunker = Chunker(
            embedder.tokenize,
            embedder.max_seq_length,
            settings.chunk_size_tokens,
            settings.chunk_overlap_tokens,
            embedder.token_spans,
        )
        model_name = str(getattr(embedder, "model_path", "embedder"))
        recipe = f"{Path(model_name).name}|{settings.chunk_size_tokens}|{settings.chunk_overlap_tokens}|{TEXT_RECIPE}"
        recipe += "|sections" + ("|headers" if settings.chunk_headers else "")  # a change re-embeds every document
        self._preparer = DocumentPreparer(settings, self.chunker, registry, recipe.encode())
        self._writer = DocumentWriter(store, keyword, registry, self.originals)

    def ingest(
        self,
        sources: Iterable[Source],
        collection: str,
        progress: ProgressCallback | None = None,
        background: bool = False,
        stop: threading.Event | None = None,
        pages: PageProgress | None = None,
    ) -> list[FileResult]:
        """Ingest every source; a failing one fails alone. Results come back in input order.

        `background` work (jobs) encodes one batch at a time and lets interactive work use the encoder
        first; setting `stop` ends it between batches (or between two pages OCR reads) with `IngestStopped`
        (what is stored stays stored). `pages` hears of each scanned page read."""
        check_collection_name(collection)
        _refuse_under_scope()
        self.registry.ensure_collection(collection)
        sources = [replace(s, filename=clean_name(s.filename) or "upload") for s in sources]
        results: dict[int, FileResult] = {}
        done = threading.Lock()

        def report(index: int, result: FileResult) -> None:
            with done:
                results[index] = result
            record_ingested(result.status, result.chunks)
            if progress:
                progress(result)

        prepared: queue.Queue[tuple[int, PreparedDocument] | None] = queue.Queue(maxsize=64)
        stop_reader = threading.Event()
        reader = threading.Thread(
            target=self._preparer.read_all,
            args=(sources, document_ids(sources), collection, prepared, report, stop_reader, pages, stop),
            daemon=True,
        )
        written: queue.Queue[list[Encoded] | None] = queue.Queue(maxsize=2)
        writer = threading.Thread(target=self._write_all, args=(written, report), daemon=True)
        reader.start()
        writer.start()
        try:
            for group in self._groups(prepared):
                written.put(self._encode(group, background, stop))
        finally:
            # Also on an error (or Ctrl-C) above: stop the reader and unblock it, then let the writer finish.
            stop_reader.set()
            while reader.is_alive():
                try:
                    prepared.get(timeout=0.1)
                except queue.Empty:
                    pass
            written.put(None)
            writer.join()
        if sum(r.chunks for r in results.values()) >= TRIM_AFTER_CHUNKS:
            # Parsing and chunking a large file (a 3 MB one-line Markdown file: ~0.5 GB at its peak) leaves
            # freed blocks glibc keeps for reuse; a server would hold its peak for good (issue 27).
            return_freed_memory()
        if stop is not None and stop.is_set() and len(results) < len(sources):  # OCR stopped mid-file
            raise IngestStopped("ingestion stopped before its end")
        return [results[i] for i in sorted(results)]

    def delete_document(self, collection: str, document_id: str) -> None:
        _refuse_under_scope()
        large = self.keyword.count(collection, document_id) >= TRIM_AFTER_CHUNKS
        self._writer.delete_document(collection, document_id)
        if large:  # what it held in the keyword index and Chroma's caches goes back to the system
            return_freed_memory()

    def delete_collection(self, collection: str) -> None:
        _refuse_under_scope()
        self._writer.delete_collection(collection)

    def recover(self) -> int:
        """Finish or undo documents whose writer died half-way; returns how many were repaired."""
        repaired = recover_half_written(self.registry, self.keyword, self.store)
        if repaired:  # a message undone may leave attachments stored before it: only after a crash, so rarely
            for collection in self.registry.collections():
                self._writer.delete_orphan_attachments(collection.name)
        return repaired

    # Stages ----------------------------------------------------------------------------------

    @staticmethod
    def _groups(
        prepared: queue.Queue[tuple[int, PreparedDocument] | None],
    ) -> Iterator[list[tuple[int, PreparedDocument]]]:
        """Documents as they come, gathered until a group has ENCODE_GROUP_CHUNKS chunks or nothing else waits."""
        group: list[tuple[int, PreparedDocument]] = []
        size = 0
        while (entry := prepared.get()) is not None:
            group.append(entry)
            size += len(entry[1].all_chunks())
            if size >= ENCODE_GROUP_CHUNKS or prepared.empty():
                yield group
                group, size = [], 0
        if group:
            yield group

    def _encode(
        self, group: list[tuple[int, PreparedDocument]], background: bool = False, stop: threading.Event | None = None
    ) -> list[Encoded]:
        texts = [with_context(c.text, c.metadata.get("context")) for _, p in group for c in p.all_chunks()]
        # Each distinct text is encoded once: repeated boilerplate, or a file that repeats one line a
        # million times, costs the encoder only its distinct chunks.
        distinct = {text: i for i, text in enumerate(dict.fromkeys(texts))}
        unique = list(distinct)
        try:
            vectors = self.embedder.embed_documents(unique, background=background, stop=stop)
        except EncodingStopped as exc:
            raise IngestStopped("ingestion stopped before its end") from exc
        if len(distinct) < len(texts):
            vectors = vectors[[distinct[text] for text in texts]]
        items, offset = [], 0
        for index, item in group:
            count = len(item.all_chunks())  # a message's vectors, then its attachments' (the writer splits them)
            items.append((index, item, vectors[offset : offset + count]))
            offset += count
        return items

    def _write_all(self, incoming: queue.Queue[list[Encoded] | None], report: Report) -> None:
        while (items := incoming.get()) is not None:  # ids are unique within one ingest (document_ids)
            for index, result in self._writer.write_group(items):
                report(index, result)


def _refuse_under_scope() -> None:
    """Writes see every document: under a document scope the registry hides some, and a write would then miss
    them (an original still used by a hidden document, say). The API refuses such keys' writes before this."""
    if current_scope() is not None:
        raise Forbidden("a key with a document filter may only read")
