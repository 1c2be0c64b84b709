"""Keyword index: SQLite FTS5 with bm25 ranking, beside Chroma.

Local Chroma refuses sparse/BM25 indexes, so keyword search lives here. The index is also the
source of truth for which chunks are *live*: a document's chunks switch from the old version to
the new one in a single SQLite transaction, and dense hits that are not live are dropped. That is
what makes ingestion atomic for queries. WAL mode makes a CLI ingest visible to a running server.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.models import Chunk

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
"""

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    document_id: str
    text: str
    metadata: dict[str, Any]
    score: float  # bm25, higher is better


def _fts_table(collection: str) -> str:
    # One FTS table per collection keeps bm25 statistics and match work per collection.
    return "fts_" + hashlib.sha1(collection.encode()).hexdigest()[:16]


def match_expression(query: str) -> str | None:
    """Any-term FTS5 query; every word quoted so user text never becomes FTS syntax."""
    words = _WORD.findall(query.lower())
    if not words:
        return None
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


class KeywordIndex:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def _ensure_fts(self, db: sqlite3.Connection, collection: str) -> str:
        table = _fts_table(collection)
        db.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5("
            "text, content='chunks', content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2')"
        )
        return table

    def replace_document(self, collection: str, document_id: str, version: str, chunks: Sequence[Chunk]) -> None:
        """Make `chunks` the live content of the document, atomically replacing any older version."""
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            table = self._ensure_fts(db, collection)
            self._delete_rows(db, table, collection, document_id)
            for chunk in chunks:
                cur = db.execute(
                    "INSERT INTO chunks (chunk_id, collection, document_id, version, text, metadata)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (chunk.chunk_id, collection, document_id, version, chunk.text, json.dumps(chunk.metadata)),
                )
                db.execute(f"INSERT INTO {table} (rowid, text) VALUES (?, ?)", (cur.lastrowid, chunk.text))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def delete_document(self, collection: str, document_id: str) -> None:
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            self._delete_rows(db, self._ensure_fts(db, collection), collection, document_id)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @staticmethod
    def _delete_rows(db: sqlite3.Connection, table: str, collection: str, document_id: str) -> None:
        rows = db.execute(
            "SELECT rowid, text FROM chunks WHERE collection = ? AND document_id = ?", (collection, document_id)
        ).fetchall()
        for rowid, text in rows:
            db.execute(f"INSERT INTO {table} ({table}, rowid, text) VALUES ('delete', ?, ?)", (rowid, text))
        db.execute("DELETE FROM chunks WHERE collection = ? AND document_id = ?", (collection, document_id))

    def delete_collection(self, collection: str) -> None:
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(f"DROP TABLE IF EXISTS {_fts_table(collection)}")
            db.execute("DELETE FROM chunks WHERE collection = ?", (collection,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

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

    def live(self, collection: str, chunk_ids: Iterable[str]) -> set[str]:
        """The subset of `chunk_ids` that belongs to the current version of its document."""
        ids = list(chunk_ids)
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = self._connect().execute(
            f"SELECT chunk_id FROM chunks WHERE collection = ? AND chunk_id IN ({marks})", [collection, *ids]
        )
        return {r[0] for r in rows}

    def document_chunks(self, collection: str, document_id: str) -> list[Chunk]:
        rows = self._connect().execute(
            "SELECT chunk_id, text, metadata FROM chunks WHERE collection = ? AND document_id = ? ORDER BY rowid",
            (collection, document_id),
        )
        return [Chunk(cid, document_id, collection, text, json.loads(meta)) for cid, text, meta in rows]

    @staticmethod
    def _has_table(db: sqlite3.Connection, table: str) -> bool:
        return db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone() is not None

    def ranked(
        self, collection: str, query: str, depth: int, filters: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """The best `depth` (chunk_id, bm25) pairs, best first. Reads no chunk text, so a deep list is cheap."""
        expression = match_expression(query)
        db = self._connect()
        table = _fts_table(collection)
        if expression is None or not self._has_table(db, table):
            return []
        if not filters:
            # Rank inside FTS5 first and join only the winners: reading every match's row is the cost.
            sql = (
                f"SELECT c.chunk_id, m.s FROM (SELECT rowid, bm25({table}) AS s FROM {table} WHERE {table} MATCH ?"
                " ORDER BY s LIMIT ?) m JOIN chunks c ON c.rowid = m.rowid ORDER BY m.s"
            )
            rows = db.execute(sql, [expression, depth]).fetchall()
        else:
            sql = (
                f"SELECT c.chunk_id, bm25({table}) AS s FROM {table} JOIN chunks c ON c.rowid = {table}.rowid"
                f" WHERE {table} MATCH ?"
            )
            args: list[Any] = [expression]
            for key, value in filters.items():
                values = value if isinstance(value, list) else [value]
                sql += f" AND json_extract(c.metadata, ?) IN ({','.join('?' * len(values))})"
                args += [f'$."{key}"', *values]
            rows = db.execute(sql + " ORDER BY s LIMIT ?", [*args, depth]).fetchall()
        # SQLite's bm25() is negated so that smaller sorts first; flip it back.
        return [(chunk_id, -score) for chunk_id, score in rows]

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
