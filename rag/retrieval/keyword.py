"""Keyword index: chunk rows in a database, BM25 ranking in memory (rag.retrieval.bm25), beside Chroma.

Local Chroma refuses sparse/BM25 indexes, so keyword search lives here. The database (SQLite in the
data dir, rag/storage/chunks/sqlite.py, or PostgreSQL, rag/storage/chunks/postgres.py) is the persisted, crash-safe
record and the source of truth for which chunks are *live*: a document's chunks switch from the old
version to the new one in a single transaction, and dense hits that are not live are dropped. That is
what makes ingestion atomic for queries. Each transaction also logs the document as changed; every
process keeps its in-memory BM25 index in step by re-reading, before each search, the documents
changed since it last looked, so an ingest by any process is searchable everywhere once it commits.

Every read here keeps to the request's document scope (rag.access.current_scope: a key's document filter):
scores are restricted to its rows before anything is ranked, and rows read back are checked against it.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.access import DocumentScope, current_scope
from rag.memory import return_freed_memory
from rag.retrieval.bm25 import Bm25Index, Scores
from rag.retrieval.bm25_file import load_index, save_index
from rag.retrieval.feedback import rm3_weights
from rag.storage.chunks import open_chunk_store
from rag.storage.chunks.types import Changes, KeywordStore
from rag.text.analyzer import Analyzer
from rag.types import Chunk

if TYPE_CHECKING:
    from rag.config import Settings

log = logging.getLogger(__name__)
# (collection, scope) pairs whose rows and chunk ids are kept, each until its collection changes: a few MB per
# pair at 100,000 chunks, and a deployment has a handful of filters.
MAX_SCOPED_ROWS = 16


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    document_id: str
    text: str
    metadata: dict[str, Any]
    score: float  # bm25, higher is better


class KeywordIndex:
    """BM25 over a `KeywordStore`: one in-memory index per collection, kept in step with the change log."""

    def __init__(self, store: KeywordStore, files: Path | None = None, save_from: int = 20_000) -> None:
        """`files`: where collections of `save_from` chunks or more keep their index between starts
        (rag.retrieval.bm25_file); None keeps every index in memory only."""
        self.store = store
        self._analyzer = Analyzer()  # shared: its stem cache serves every collection
        self._indexes: dict[str, tuple[Bm25Index, int]] = {}  # collection -> (index, last change seen)
        self._indexes_lock = threading.Lock()
        # (collection, scope) -> (change position, rows the scope admits, their chunk ids): one SQL query per
        # change of the collection, not per search
        self._scoped_rows: dict[tuple[str, DocumentScope], tuple[int, np.ndarray, list[str]]] = {}
        self._files, self._save_from = files, save_from

    @property
    def analyzer(self) -> Analyzer:
        return self._analyzer

    # Writes and row reads go straight to the store -------------------------------------------

    def replace_document(self, collection: str, document_id: str, version: str, chunks: Sequence[Chunk]) -> None:
        """Make `chunks` the live content of the document, atomically replacing any older version."""
        self.store.replace_document(collection, document_id, version, chunks)

    def delete_document(self, collection: str, document_id: str) -> None:
        self.store.delete_document(collection, document_id)

    def delete_collection(self, collection: str) -> None:
        self.store.delete_collection(collection)
        if self._files:  # its saved index would only take disk space (a process with it mapped keeps its copy)
            shutil.rmtree(self._file_of(collection), ignore_errors=True)

    def document_version(self, collection: str, document_id: str) -> str | None:
        return self.store.document_version(collection, document_id)

    def count(self, collection: str, document_id: str | None = None) -> int:
        return self.store.count(collection, document_id)

    def document_chunks(self, collection: str, document_id: str) -> list[Chunk]:
        return _visible(self.store.document_chunks(collection, document_id))

    def first_chunks(self, collection: str, limit: int) -> list[Chunk]:
        """Each live document's first chunk (in ingestion order), for describing a collection."""
        scope = current_scope()
        return _visible(self.store.first_chunks(collection, limit, scope.filters if scope else None))

    def fetch(self, collection: str, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        found = self.store.fetch(collection, chunk_ids) if chunk_ids else {}
        scope = current_scope()
        return found if scope is None else {cid: c for cid, c in found.items() if scope.admits(c.metadata)}

    # BM25 ------------------------------------------------------------------------------------

    def _bm25(self, collection: str) -> Bm25Index:
        """The collection's in-memory BM25 index, brought up to date with the database first."""
        with self._indexes_lock:
            index, seen = self._indexes.get(collection) or (Bm25Index(self._analyzer), -1)
            self._indexes[collection] = (index, seen)
        with index.lock:
            index, seen = self._indexes[collection]
            if seen < 0:
                index, seen = self._open_saved(collection, index)
                with self._indexes_lock:
                    self._indexes[collection] = (index, seen)
            changes = self.store.changes_since(collection, seen)
            if changes is None:
                return index
            index.add_many(_by_document(changes))
            with self._indexes_lock:
                self._indexes[collection] = (index, changes.latest)
            if changes.documents is None and self._files and len(index) >= self._save_from:
                index = self._save(collection, index, changes.latest)
                return_freed_memory()  # the build's objects: ~0.9 GB the allocator kept at a million chunks
        return index

    def _file_of(self, collection: str) -> Path:
        # The name hashed (collection names may hold any character); the engine named (a data dir can
        # serve SQLite one day and PostgreSQL the next, with different change logs).
        digest = hashlib.sha256(collection.encode()).hexdigest()[:24]
        return self._files / f"{type(self.store).__name__}-{digest}"  # type: ignore[operator]

    def _open_saved(self, collection: str, placeholder: Bm25Index) -> tuple[Bm25Index, int]:
        """The collection's saved index caught up with the change log, or (placeholder, -1): build it from
        the rows. A saved index whose live chunks do not match the rows' count is not trusted (a database
        restored or replaced under the data dir) and is rebuilt."""
        saved = load_index(self._file_of(collection), self._analyzer) if self._files else None
        if saved is None:
            return placeholder, -1
        index, seen = saved
        index.lock = placeholder.lock  # threads already waiting on the placeholder's lock see this index
        changes = self.store.changes_since(collection, seen)
        if changes is not None:
            index.add_many(_by_document(changes))
            seen = changes.latest
        if len(index) != self.store.count(collection):
            log.warning("the saved keyword index of %r does not match its rows: rebuilding it", collection)
            return placeholder, -1
        return index, seen

    def _save(self, collection: str, index: Bm25Index, latest: int) -> Bm25Index:
        """Save the index and carry on with the saved files mapped: the arrays built in memory are then
        freed, and the pages of the mapping a search never touches cost no memory."""
        try:
            save_index(index, self._file_of(collection), latest)
        except OSError as exc:  # a saved index only speeds up the next start
            log.warning("could not save the keyword index of %r: %s", collection, exc)
            return index
        reopened = load_index(self._file_of(collection), self._analyzer)
        if reopened is None:
            return index
        reopened[0].lock = index.lock
        with self._indexes_lock:
            self._indexes[collection] = (reopened[0], latest)
        return reopened[0]

    def warm(self, collections: Iterable[str]) -> None:
        """Load the collections' BM25 indexes now rather than at their first search."""
        for collection in collections:
            try:
                self._bm25(collection)
            except Exception as exc:  # a warm-up is an optimisation: the first search will retry
                log.warning("could not preload the keyword index of %r: %s", collection, exc)

    def _rows(self, collection: str, filters: dict[str, Any] | None) -> np.ndarray | None:
        """The rows a search may score: those the filters and the request's scope admit; None = every row."""
        row_ids = self.store.filtered_ids(collection, filters) if filters else None
        scope = current_scope()
        if scope is None:
            return row_ids
        scoped = self._scoped(collection, scope)[1]
        return scoped if row_ids is None else np.intersect1d(row_ids, scoped, assume_unique=True)

    def _scoped(self, collection: str, scope: DocumentScope) -> tuple[int, np.ndarray, list[str]]:
        index = self._bm25(collection)
        with self._indexes_lock:
            position = self._indexes.get(collection, (None, -1))[1]
            cached = self._scoped_rows.get((collection, scope))
        if cached is not None and cached[0] == position >= 0:
            return cached
        rows = self.store.filtered_ids(collection, scope.filters)
        found = (position, rows, index.chunk_ids_of(rows))
        with self._indexes_lock:
            self._scoped_rows.pop((collection, scope), None)
            if len(self._scoped_rows) >= MAX_SCOPED_ROWS:
                self._scoped_rows.pop(next(iter(self._scoped_rows)))
            self._scoped_rows[(collection, scope)] = found
        return found

    def scope_chunk_ids(self, collection: str) -> list[str] | None:
        """The live chunks the request's document scope admits (None: no scope), for a dense search to keep to:
        Chroma searches a list of ids several times faster than it evaluates a metadata `where`."""
        scope = current_scope()
        return None if scope is None else self._scoped(collection, scope)[2]

    def scores(self, collection: str, query: str, filters: dict[str, Any] | None = None) -> Scores:
        """Every live chunk's BM25 score for `query` (a chunk the filters or the scope leave out scores 0)."""
        index = self._bm25(collection)  # first: the scope's rows are cached per change position
        return index.score(query, self._rows(collection, filters))

    def expanded_scores(
        self, collection: str, query: str, feedback: Sequence[tuple[str, float]], filters: dict[str, Any] | None = None
    ) -> Scores:
        """BM25 scores of the query expanded by RM3 with the terms of the `feedback` chunks (id, score)."""
        index = self._bm25(collection)
        rows = self._rows(collection, filters)
        with index.lock:  # term ids read and scored under one hold: a compaction renumbers them
            counts = index.chunk_terms([chunk_id for chunk_id, _ in feedback])
            feedback_counts = list(zip(counts, [s for _, s in feedback], strict=True))
            weights = rm3_weights(index.query_term_ids(query), feedback_counts, index.stop_term_ids())
            return index.score_weighted(weights, rows)

    def term_counts(self, collection: str, query: str) -> tuple[dict[str, int], int]:
        """Chunk frequency of each query term in the collection, and its live chunk count (within the
        request's document scope: a term only hidden documents hold is unknown to the key)."""
        return self._bm25(collection).term_counts(query, self._rows(collection, None))

    def ranked(
        self, collection: str, query: str, depth: int, filters: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """The best `depth` (chunk_id, bm25) pairs, best first. Reads no chunk text."""
        return self.scores(collection, query, filters).top(depth)

    def search(
        self, collection: str, query: str, limit: int, filters: dict[str, Any] | None = None
    ) -> list[KeywordHit]:
        ranked = self.ranked(collection, query, limit, filters)
        chunks = self.fetch(collection, [chunk_id for chunk_id, _ in ranked])
        return [
            KeywordHit(cid, chunks[cid].document_id, chunks[cid].text, chunks[cid].metadata, score)
            for cid, score in ranked
            if cid in chunks
        ]


def _visible(chunks: list[Chunk]) -> list[Chunk]:
    scope = current_scope()
    return chunks if scope is None else [c for c in chunks if scope.admits(c.metadata)]


def _by_document(changes: Changes) -> Iterable[tuple[str, list[tuple[int, str, str]]]]:
    """Each changed document's rows (none for a deleted one), in the order they are indexed."""
    if changes.documents is None:  # the whole collection, in document order: grouped as it streams
        return ((d, [(r, c, t) for _, r, c, t in rows]) for d, rows in groupby(changes.rows, itemgetter(0)))
    grouped: dict[str, list[tuple[int, str, str]]] = {d: [] for d in changes.documents}
    for document_id, row_id, chunk_id, text in changes.rows:
        grouped.setdefault(document_id, []).append((row_id, chunk_id, text))
    return grouped.items()


def open_keyword_index(settings: Settings) -> KeywordIndex:
    """The keyword index over the configured engine's chunk rows."""
    return KeywordIndex(open_chunk_store(settings), settings.data_dir / "keyword_index")
