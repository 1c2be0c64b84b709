"""Keyword index: chunk rows in SQLite, BM25 ranking in memory (rag.bm25), beside Chroma.

Local Chroma refuses sparse/BM25 indexes, so keyword search lives here. SQLite is the persisted,
crash-safe record and the source of truth for which chunks are *live*: a document's chunks switch
from the old version to the new one in a single transaction, and dense hits that are not live are
dropped. That is what makes ingestion atomic for queries. Each transaction also bumps the
document's row in `changes`; every process keeps its in-memory BM25 index in step by re-reading the
documents changed since it last looked, so a CLI ingest is visible to a running server at once
(WAL mode lets readers and the writer work side by side).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.bm25 import Analyzer, Bm25Index, Scores
from rag.models import Chunk

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL,
    collection TEXT NOT NULL,
    document_id TEXT NOT NULL,
    version TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks (collection, document_id);
CREATE UNIQUE INDEX IF NOT EXISTS chunks_by_id ON chunks (collection, chunk_id);
CREATE TABLE IF NOT EXISTS changes (
    collection TEXT NOT NULL,
    document_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (collection, document_id)
);
CREATE INDEX IF NOT EXISTS changes_by_seq ON changes (collection, seq);
"""


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    document_id: str
    text: str
    metadata: dict[str, Any]
    score: float  # bm25, higher is better


class KeywordIndex:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._analyzer = Analyzer()  # shared: its stem cache serves every collection
        self._indexes: dict[str, tuple[Bm25Index, int]] = {}  # collection -> (index, last change seen)
        self._indexes_lock = threading.Lock()
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @property
    def analyzer(self) -> Analyzer:
        return self._analyzer

    def first_chunks(self, collection: str, limit: int) -> list[Chunk]:
        """Each live document's first chunk (in ingestion order), for describing a collection."""
        rows = self._connect().execute(
            "SELECT chunk_id, document_id, text, metadata FROM chunks WHERE rowid IN"
            " (SELECT min(rowid) FROM chunks WHERE collection = ? GROUP BY document_id) ORDER BY rowid LIMIT ?",
            (collection, limit),
        )
        return [Chunk(cid, doc, collection, text, json.loads(meta)) for cid, doc, text, meta in rows]

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @staticmethod
    def _mark_changed(db: sqlite3.Connection, collection: str, document_ids: Sequence[str]) -> None:
        """Inside the writing transaction: readers re-read these documents (writers are serialised)."""
        seq = db.execute("SELECT coalesce(max(seq), 0) + 1 FROM changes").fetchone()[0]
        db.executemany(
            "INSERT INTO changes (collection, document_id, seq) VALUES (?, ?, ?)"
            " ON CONFLICT (collection, document_id) DO UPDATE SET seq = excluded.seq",
            [(collection, document_id, seq) for document_id in document_ids],
        )

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it or, on any error, none of it."""
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def replace_document(self, collection: str, document_id: str, version: str, chunks: Sequence[Chunk]) -> None:
        """Make `chunks` the live content of the document, atomically replacing any older version."""
        with self._writing() as db:
            db.execute("DELETE FROM chunks WHERE collection = ? AND document_id = ?", (collection, document_id))
            db.executemany(
                "INSERT INTO chunks (chunk_id, collection, document_id, version, text, metadata)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (chunk.chunk_id, collection, document_id, version, chunk.text, json.dumps(chunk.metadata))
                    for chunk in chunks
                ],
            )
            self._mark_changed(db, collection, [document_id])

    def delete_document(self, collection: str, document_id: str) -> None:
        with self._writing() as db:
            db.execute("DELETE FROM chunks WHERE collection = ? AND document_id = ?", (collection, document_id))
            self._mark_changed(db, collection, [document_id])

    def delete_collection(self, collection: str) -> None:
        with self._writing() as db:
            documents = [
                r[0]
                for r in db.execute(
                    "SELECT document_id FROM chunks WHERE collection = ?1"
                    " UNION SELECT document_id FROM changes WHERE collection = ?1",
                    (collection,),
                )
            ]
            db.execute("DELETE FROM chunks WHERE collection = ?", (collection,))
            self._mark_changed(db, collection, documents)

    def document_version(self, collection: str, document_id: str) -> str | None:
        row = (
            self._connect()
            .execute(
                "SELECT version FROM chunks WHERE collection = ? AND document_id = ? LIMIT 1", (collection, document_id)
            )
            .fetchone()
        )
        return row[0] if row else None

    def count(self, collection: str, document_id: str | None = None) -> int:
        sql, args = "SELECT count(*) FROM chunks WHERE collection = ?", [collection]
        if document_id is not None:
            sql, args = sql + " AND document_id = ?", [*args, document_id]
        return int(self._connect().execute(sql, args).fetchone()[0])

    def document_chunks(self, collection: str, document_id: str) -> list[Chunk]:
        rows = self._connect().execute(
            "SELECT chunk_id, text, metadata FROM chunks WHERE collection = ? AND document_id = ? ORDER BY rowid",
            (collection, document_id),
        )
        return [Chunk(cid, document_id, collection, text, json.loads(meta)) for cid, text, meta in rows]

    def _bm25(self, collection: str) -> Bm25Index:
        """The collection's in-memory BM25 index, brought up to date with the database first."""
        with self._indexes_lock:
            index, seen = self._indexes.get(collection) or (Bm25Index(self._analyzer), -1)
            self._indexes[collection] = (index, seen)
        with index.lock:
            index, seen = self._indexes[collection]
            db = self._connect()
            db.execute("BEGIN")  # one snapshot for the change list and the rows it points to
            try:
                if seen < 0:  # first use: load the whole collection
                    latest = db.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
                    changed = None
                else:
                    rows = db.execute(
                        "SELECT document_id, seq FROM changes WHERE collection = ? AND seq > ?", (collection, seen)
                    ).fetchall()
                    if not rows:
                        return index
                    changed = [r[0] for r in rows]
                    latest = max(r[1] for r in rows)
                self._load(db, index, collection, changed)
            finally:
                db.execute("COMMIT")
            with self._indexes_lock:
                self._indexes[collection] = (index, latest)
        return index

    @staticmethod
    def _load(db: sqlite3.Connection, index: Bm25Index, collection: str, documents: list[str] | None) -> None:
        sql = "SELECT document_id, rowid, chunk_id, text FROM chunks WHERE collection = ?"
        if documents is None:
            rows = db.execute(sql + " ORDER BY document_id, rowid", (collection,)).fetchall()
        else:
            marks = ",".join("?" * len(documents))
            rows = db.execute(sql + f" AND document_id IN ({marks}) ORDER BY document_id, rowid",
                              (collection, *documents)).fetchall()  # fmt: skip
        grouped: dict[str, list[tuple[int, str, str]]] = {d: [] for d in documents or []}
        for document_id, rowid, chunk_id, text in rows:
            grouped.setdefault(document_id, []).append((rowid, chunk_id, text))
        index.add_many(grouped.items())

    def warm(self, collections: Iterable[str]) -> None:
        """Load the collections' BM25 indexes now rather than at their first search."""
        for collection in collections:
            try:
                self._bm25(collection)
            except sqlite3.Error as exc:  # a warm-up is an optimisation: the first search will retry
                log.warning("could not preload the keyword index of %r: %s", collection, exc)

    def _filtered_rowids(self, collection: str, filters: dict[str, Any]) -> np.ndarray:
        sql, args = "SELECT rowid FROM chunks WHERE collection = ?", [collection]
        for key, value in filters.items():
            values = value if isinstance(value, list) else [value]
            sql += f" AND json_extract(metadata, ?) IN ({','.join('?' * len(values))})"
            args += [f'$."{key}"', *values]
        return np.fromiter((r[0] for r in self._connect().execute(sql, args)), dtype=np.int64)

    def scores(self, collection: str, query: str, filters: dict[str, Any] | None = None) -> Scores:
        """Every live chunk's BM25 score for `query` (a filtered-out chunk scores 0)."""
        rowids = self._filtered_rowids(collection, filters) if filters else None
        return self._bm25(collection).score(query, rowids)

    def term_counts(self, collection: str, query: str) -> tuple[dict[str, int], int]:
        """Chunk frequency of each query term in the collection, and its live chunk count."""
        return self._bm25(collection).term_counts(query)

    def ranked(
        self, collection: str, query: str, depth: int, filters: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """The best `depth` (chunk_id, bm25) pairs, best first. Reads no chunk text."""
        return self.scores(collection, query, filters).top(depth)

    def fetch(self, collection: str, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self._connect().execute(
            f"SELECT chunk_id, document_id, text, metadata FROM chunks WHERE collection = ? AND chunk_id IN ({marks})",
            [collection, *chunk_ids],
        )
        return {cid: Chunk(cid, doc, collection, text, json.loads(meta)) for cid, doc, text, meta in rows}

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
