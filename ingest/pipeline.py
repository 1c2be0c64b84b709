"""The ingestion pipeline: file bytes → pages → chunks → embeddings → Chroma + keyword index + registry.

Parsing and chunking run in a reader thread and storage in a writer thread, so both hide behind
the encoder, which is the bottleneck on a CPU. Vectors of a group of documents go to Chroma in one
upsert (each call has a fixed cost of ~20 ms); each document then becomes visible in one step (the
keyword index transaction, see rag/retrieval/keyword.py); a crash leaves a pending registry row that
`recover()` cleans up at the next writer's start, once the writer's lease shows it is gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ingest.chunking import Chunker
from ingest.loaders import LoadedDocument, load_bytes
from ingest.names import clean_name
from rag.config import Settings
from rag.errors import NotFound, RagError, TooLarge
from rag.retrieval.embeddings import Embedder
from rag.retrieval.keyword import KeywordIndex
from rag.storage.clock import now
from rag.storage.originals import OriginalStore
from rag.storage.registry.types import Registry
from rag.storage.vectors import VectorStore
from rag.telemetry import record_ingested
from rag.types import Chunk
from rag.validation import check_collection_name

log = logging.getLogger(__name__)

# Chunks gathered across documents before one encode call: big batches keep the encoder busy.
ENCODE_GROUP_CHUNKS = 256
_RESERVED_KEYS = {"document_id", "collection", "filename", "page", "chunk_index", "start_char", "end_char",
                  "sha256", "document_sha256", "version", "ingested_at"}  # fmt: skip


class IngestStopped(Exception):
    """A background ingestion was asked to stop (server shutdown); running it again finishes it."""


@dataclass
class Source:
    """One file (or raw text) to ingest."""

    filename: str
    read: Callable[[], bytes]
    size: int
    document_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    kind: str | None = None  # a file name whose extension picks the loader, when `filename` cannot

    @classmethod
    def from_path(cls, path: Path, document_id: str | None = None) -> Source:
        return cls(path.name, path.read_bytes, path.stat().st_size, document_id)

    @classmethod
    def from_bytes(cls, filename: str, data: bytes, **kwargs: Any) -> Source:
        return cls(filename, lambda: data, len(data), **kwargs)


@dataclass
class FileResult:
    filename: str
    document_id: str
    status: str  # ingested | unchanged | failed; the CLI adds skipped (a symlink it did not follow)
    chunks: int = 0
    pages: int | None = None
    reason: str | None = None
    status_code: int | None = None  # the HTTP status of a failure


@dataclass
class _Prepared:
    source: Source
    document_id: str
    data_sha: str
    version: str
    document: LoadedDocument
    chunks: list[Chunk]


ProgressCallback = Callable[[FileResult], None]


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
        tokenize = embedder.tokenize
        self.chunker = Chunker(
            tokenize,
            embedder.max_seq_length,
            settings.chunk_size_tokens,
            settings.chunk_overlap_tokens,
            embedder.token_spans,
        )
        model_name = str(getattr(embedder, "model_path", "embedder"))
        recipe = f"{Path(model_name).name}|{settings.chunk_size_tokens}|{settings.chunk_overlap_tokens}"
        self._recipe = recipe.encode()
        self._doc_locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # Public API ------------------------------------------------------------------------------

    def ingest(
        self,
        sources: Iterable[Source],
        collection: str,
        progress: ProgressCallback | None = None,
        background: bool = False,
        stop: threading.Event | None = None,
    ) -> list[FileResult]:
        """Ingest every source; a failing one fails alone. Results come back in input order.

        `background` work (jobs) encodes one batch at a time and lets interactive work use the encoder
        first; setting `stop` ends it between batches with `IngestStopped` (what is stored stays stored)."""
        check_collection_name(collection)
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

        prepared: queue.Queue[tuple[int, _Prepared] | None] = queue.Queue(maxsize=64)
        stop_reader = threading.Event()
        reader = threading.Thread(
            target=self._read_all,
            args=(sources, document_ids(sources), collection, prepared, report, stop_reader),
            daemon=True,
        )
        written: queue.Queue[list[tuple[int, _Prepared, np.ndarray]] | None] = queue.Queue(maxsize=2)
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
        return [results[i] for i in sorted(results)]

    def _encode(
        self, group: list[tuple[int, _Prepared]], background: bool = False, stop: threading.Event | None = None
    ) -> list[tuple[int, _Prepared, np.ndarray]]:
        texts = [c.text for _, p in group for c in p.chunks]
        # Each distinct text is encoded once: repeated boilerplate, or a file that repeats one line a
        # million times, costs the encoder only its distinct chunks.
        distinct = {text: i for i, text in enumerate(dict.fromkeys(texts))}
        unique = list(distinct)
        vectors = self._encode_in_background(unique, stop) if background else self.embedder.embed_documents(unique)
        if len(distinct) < len(texts):
            vectors = vectors[[distinct[text] for text in texts]]
        items, offset = [], 0
        for index, item in group:
            items.append((index, item, vectors[offset : offset + len(item.chunks)]))
            offset += len(item.chunks)
        return items

    def _encode_in_background(self, texts: list[str], stop: threading.Event | None) -> np.ndarray:
        """One batch per turn of the encoder: an interactive caller waits for one batch at most (0.1-0.2 s on
        an idle CPU; a whole group of 256 chunks held it for a minute on a busy one)."""
        batch = self.settings.embedding_batch_size
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)  # as encode() sorts them
        vectors = np.zeros((len(texts), self.embedder.dimension), dtype=np.float32)
        for start in range(0, len(order), batch):
            if stop is not None and stop.is_set():
                raise IngestStopped("ingestion stopped before its end")
            picked = order[start : start + batch]
            vectors[picked] = self.embedder.embed_documents([texts[i] for i in picked], background=True)
        return vectors

    def delete_document(self, collection: str, document_id: str) -> None:
        if self.registry.get(collection, document_id) is None:
            raise NotFound(f"document {document_id!r} not found in collection {collection!r}")
        with self._lock_for(collection, document_id):
            record = self.registry.get(collection, document_id)
            self.keyword.delete_document(collection, document_id)
            self.store.delete_document(collection, document_id)
            self.registry.delete(collection, document_id)
            if record is not None:
                self.originals.discard(collection, record.sha256, self._shas_in_use(collection))

    def delete_collection(self, collection: str) -> None:
        if self.registry.collection(collection) is None:
            raise NotFound(f"collection {collection!r} not found")
        self.keyword.delete_collection(collection)
        self.store.delete_collection(collection)
        self.registry.delete_collection(collection)
        self.originals.discard_collection(collection)

    def _shas_in_use(self, collection: str) -> set[str]:
        return {r.sha256 for r in self.registry.documents(collection, status=None)}

    def recover(self) -> int:
        """Finish or undo documents whose writer died half-way; returns how many were repaired.

        Only writers that are really gone: a document another live process is writing is left alone
        (its writer's lease is still locked). Pending rows are read before the leases, so a writer that
        starts meanwhile cannot have its rows taken for a dead one's."""
        pending = self.registry.pending()
        if not pending:
            return 0
        alive = self.registry.live_writers()
        repaired = 0
        for record in pending:
            if record.writer in alive:
                continue
            live = self.keyword.document_version(record.collection, record.document_id)
            if live is not None and live == record.pending_version:
                settled = self.registry.finish(
                    record.collection, record.document_id, filename=record.filename, size=record.size,
                    sha256=record.sha256, version=live, pages=record.pages, metadata=record.metadata,
                    chunk_count=self.keyword.count(record.collection, record.document_id), left_by=record.writer,
                )  # fmt: skip
            else:
                settled = self.registry.abandon(record.collection, record.document_id, left_by=record.writer)
            if not settled:  # another writer took the document over meanwhile: its work, not ours
                continue
            # Vectors of the versions that are not live are invisible already; now remove them (only those
            # two: a writer that takes the document over next writes a version of its own).
            for version in {record.version, record.pending_version} - {live, None}:
                self.store.delete_document(record.collection, record.document_id, only_version=version)
            repaired += 1
        if repaired:
            log.warning("recovered %d document(s) left half-written by a writer that is gone", repaired)
        return repaired

    # Stages ----------------------------------------------------------------------------------

    def _read_all(
        self,
        sources: list[Source],
        ids: list[str | FileResult],
        collection: str,
        out: queue.Queue[tuple[int, _Prepared] | None],
        report: Callable[[int, FileResult], None],
        stop: threading.Event,
    ) -> None:
        try:
            for index, (source, document_id) in enumerate(zip(sources, ids, strict=True)):
                if stop.is_set():
                    return
                if isinstance(document_id, FileResult):  # no usable id of its own
                    report(index, document_id)
                    continue
                try:
                    item = self._prepare(source, collection, document_id)
                except RagError as exc:
                    report(index, _failed(source.filename, document_id, exc.message, exc.status_code))
                    continue
                except Exception as exc:  # a parser bug must not take the batch down
                    log.exception("unexpected error reading %s", source.filename)
                    report(index, _failed(source.filename, document_id, f"{type(exc).__name__}: {exc}", 500))
                    continue
                if isinstance(item, FileResult):
                    report(index, item)
                else:
                    out.put((index, item))
        finally:
            out.put(None)

    def _prepare(self, source: Source, collection: str, document_id: str) -> _Prepared | FileResult:
        if source.size > self.settings.max_file_bytes:
            limit = self.settings.max_file_bytes
            raise TooLarge(f"file is {source.size:,} bytes, over the limit of {limit:,} bytes")
        data = source.read()
        data_sha = hashlib.sha256(data).hexdigest()
        version = hashlib.sha256(self._recipe + data_sha.encode()).hexdigest()[:16]
        existing = self.registry.get(collection, document_id)
        if existing and existing.version == version and existing.metadata == source.metadata:
            return _unchanged(source.filename, document_id, existing)
        document = load_bytes(source.kind or source.filename, data, self.settings.max_file_bytes)
        chunks = self._chunks(source, collection, document_id, data_sha, version, document)
        return _Prepared(source, document_id, data_sha, version, document, chunks)

    def _chunks(
        self, source: Source, collection: str, document_id: str, data_sha: str, version: str, doc: LoadedDocument
    ) -> list[Chunk]:
        stamp = now()
        user_meta = {k: v for k, v in source.metadata.items() if k not in _RESERVED_KEYS}
        chunks = []
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
            chunks.append(Chunk(f"{document_id}#{version}#{index}", document_id, collection, piece.text, meta))
        return chunks

    @staticmethod
    def _groups(prepared: queue.Queue[tuple[int, _Prepared] | None]) -> Iterator[list[tuple[int, _Prepared]]]:
        group: list[tuple[int, _Prepared]] = []
        size = 0
        while (entry := prepared.get()) is not None:
            group.append(entry)
            size += len(entry[1].chunks)
            if size >= ENCODE_GROUP_CHUNKS or prepared.empty():
                yield group
                group, size = [], 0
        if group:
            yield group

    def _write_all(
        self,
        incoming: queue.Queue[list[tuple[int, _Prepared, np.ndarray]] | None],
        report: Callable[[int, FileResult], None],
    ) -> None:
        while (items := incoming.get()) is not None:  # ids are unique within one ingest (document_ids)
            for index, result in self._write_group(items):
                report(index, result)

    def _write_group(self, items: list[tuple[int, _Prepared, np.ndarray]]) -> list[tuple[int, FileResult]]:
        """Store a group of documents: one vector upsert for all (each call costs ~20 ms in Chroma, whatever
        its size), then each document made live on its own, so one failure still fails alone."""
        with contextlib.ExitStack() as held:
            # Sorted, so two ingests that share documents cannot deadlock.
            for key in sorted({(item.chunks[0].collection, item.document_id) for _, item, _ in items if item.chunks}):
                held.enter_context(self._lock_for(*key))
            done: list[tuple[int, FileResult]] = []
            todo: list[tuple[int, _Prepared, np.ndarray, Any]] = []
            for index, item, vectors in items:
                if not item.chunks:
                    done.append((index, _failed(item.source.filename, item.document_id, "no text to index", 422)))
                    continue
                existing = self.registry.get(item.chunks[0].collection, item.document_id)
                if existing and existing.version == item.version and existing.metadata == item.source.metadata:
                    done.append((index, _unchanged(item.source.filename, item.document_id, existing)))
                    continue
                self.registry.begin(
                    item.chunks[0].collection, item.document_id, item.source.filename, item.source.size,
                    item.data_sha, item.version, item.source.metadata, self.registry.writer_lease(),
                )  # fmt: skip
                todo.append((index, item, vectors, existing))
            try:
                if todo:
                    self.store.upsert(
                        todo[0][1].chunks[0].collection,
                        [c for _, item, _, _ in todo for c in item.chunks],
                        np.concatenate([vectors for _, _, vectors, _ in todo]),
                    )
            except Exception as exc:
                log.exception("failed to store %d document(s)", len(todo))
                for index, item, _, existing in todo:
                    done.append((index, self._undo(item, existing, exc)))
                return done
            for index, item, _, existing in todo:
                try:
                    done.append((index, self._make_live(item, existing)))
                except Exception as exc:
                    log.exception("failed to store %s", item.source.filename)
                    done.append((index, self._undo(item, existing, exc)))
        return done

    def _make_live(self, item: _Prepared, existing: Any) -> FileResult:
        source, collection = item.source, item.chunks[0].collection
        # Kept before the document goes live, so a live document always has its original (for page images).
        self.originals.save(collection, item.data_sha, source.read())
        self.keyword.replace_document(collection, item.document_id, item.version, item.chunks)
        pages = item.document.page_count
        self.registry.finish(
            collection, item.document_id, filename=source.filename, size=source.size, sha256=item.data_sha,
            version=item.version, chunk_count=len(item.chunks), pages=pages, metadata=source.metadata,
        )  # fmt: skip
        if existing is not None:  # a new document has no older vectors to remove
            self.store.delete_document(collection, item.document_id, keep_version=item.version)
            if existing.sha256 != item.data_sha:
                self.originals.discard(collection, existing.sha256, self._shas_in_use(collection))
        return FileResult(source.filename, item.document_id, "ingested", len(item.chunks), pages)

    def _undo(self, item: _Prepared, existing: Any, exc: Exception) -> FileResult:
        collection = item.chunks[0].collection
        try:
            self.store.delete_document(collection, item.document_id, keep_version=existing and existing.version)
        finally:
            self.registry.abandon(collection, item.document_id)
        status = exc.status_code if isinstance(exc, RagError) else 500
        return _failed(item.source.filename, item.document_id, f"storage failed: {exc}", status)

    def _lock_for(self, collection: str, document_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._doc_locks.setdefault((collection, document_id), threading.Lock())


def document_ids(sources: list[Source]) -> list[str | FileResult]:
    """Each source's document id, or the failure to report when it has none of its own.

    Two files with one id in the same batch (`dup.txt` twice, `a/same.txt` and `b/same.txt` uploaded
    as `same.txt`) would overwrite each other: the first keeps the id, the others fail with 409.
    """
    first: dict[str, int] = {}
    ids: list[str | FileResult] = []
    for index, source in enumerate(sources):
        document_id = clean_name(source.document_id or source.filename)
        if not document_id:
            ids.append(_failed(source.filename, "", "the document id is empty", 422))
        elif document_id in first:
            reason = (
                f"duplicate document id {document_id!r}: file {first[document_id] + 1} of this batch already has it;"
                " this file was not ingested (give each file its own document_id to keep both)"
            )
            ids.append(_failed(source.filename, document_id, reason, 409))
        else:
            first[document_id] = index
            ids.append(document_id)
    return ids


def _unchanged(filename: str, document_id: str, existing: Any) -> FileResult:
    return FileResult(filename, document_id, "unchanged", existing.chunk_count, existing.pages)


def _failed(filename: str, document_id: str, reason: str, status_code: int) -> FileResult:
    return FileResult(filename, document_id, "failed", reason=reason, status_code=status_code)
