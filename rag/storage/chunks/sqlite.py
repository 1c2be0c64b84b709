"""The keyword index's chunk rows and change log in a SQLite file in the data dir (the default engine).

Writers are serialised by SQLite (BEGIN IMMEDIATE), so the change log's next position is simply
max(seq) + 1; WAL mode lets readers and the writer work side by side.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.storage.chunks.types import Changes
from rag.storage.sqlite_file import SqliteFile
from rag.types import Chunk


class SqliteKeywordStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = SqliteFile(path, pragmas=("journal_mode=WAL", "synchronous=NORMAL"))
        self.file.apply_schema("chunks")

    def _connect(self) -> sqlite3.Connection:
        return self.file.connect()

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
        with self.file.transaction():
            yield self._connect()

    def replace_document(self, collection: str, document_id: str, version: str, chunks: Sequence[Chunk]) -> None:
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

    def first_chunks(self, collection: str, limit: int, filters: dict[str, Any] | None = None) -> list[Chunk]:
        where, args = _matching(filters)
        rows = self._connect().execute(
            "SELECT chunk_id, document_id, text, metadata FROM chunks WHERE rowid IN"
            f" (SELECT min(rowid) FROM chunks WHERE collection = ?{where} GROUP BY document_id) ORDER BY rowid LIMIT ?",
            (collection, *args, limit),
        )
        return [Chunk(cid, doc, collection, text, json.loads(meta)) for cid, doc, text, meta in rows]

    def fetch(self, collection: str, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        marks = ",".join("?" * len(chunk_ids))
        rows = self._connect().execute(
            f"SELECT chunk_id, document_id, text, metadata FROM chunks WHERE collection = ? AND chunk_id IN ({marks})",
            [collection, *chunk_ids],
        )
        return {cid: Chunk(cid, doc, collection, text, json.loads(meta)) for cid, doc, text, meta in rows}

    def filtered_ids(self, collection: str, filters: dict[str, Any]) -> np.ndarray:
        where, args = _matching(filters)
        rows = self._connect().execute(f"SELECT rowid FROM chunks WHERE collection = ?{where}", [collection, *args])
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def changes_since(self, collection: str, seen: int) -> Changes | None:
        if seen < 0:  # first use: the whole collection, streamed
            latest = self._connect().execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
            return Changes(latest, None, self._all_rows(collection))
        db = self._connect()
        db.execute("BEGIN")  # one snapshot for the change list and the rows it points to
        try:
            found = db.execute(
                "SELECT document_id, seq FROM changes WHERE collection = ? AND seq > ?", (collection, seen)
            ).fetchall()
            if not found:
                return None
            changed = [r[0] for r in found]
            latest = max(r[1] for r in found)
            marks = ",".join("?" * len(changed))
            rows = db.execute(_ROWS + f" AND document_id IN ({marks}) ORDER BY document_id, rowid",
                              (collection, *changed)).fetchall()  # fmt: skip
        finally:
            db.execute("COMMIT")
        return Changes(latest, changed, rows)

    def _all_rows(self, collection: str) -> Iterator[tuple[str, int, str, str]]:
        """Every row of the collection, read a page at a time on a connection of its own (its snapshot is
        taken after the change log position was read: newer rows are only loaded twice, never missed)."""
        db = sqlite3.connect(self.path, timeout=self.file.timeout, isolation_level=None, check_same_thread=False)
        try:
            db.execute("BEGIN")
            cursor = db.execute(_ROWS + " ORDER BY document_id, rowid", (collection,))
            while page := cursor.fetchmany(2048):
                yield from page
        finally:
            db.close()  # ends the read transaction too


# The keyword index reads each chunk's contextual header (rag/text/headings.py) before its text.
_ROWS = (
    "SELECT document_id, rowid, chunk_id, coalesce(json_extract(metadata, '$.context') || char(10), '') || text"
    " FROM chunks WHERE collection = ?"
)


def _matching(filters: dict[str, Any] | None) -> tuple[str, list[Any]]:
    """`AND ...` clauses for chunks whose metadata matches the filters (a list: any of), and their arguments."""
    sql, args = "", []
    for key, value in (filters or {}).items():
        values = value if isinstance(value, list) else [value]
        sql += f" AND json_extract(metadata, ?) IN ({','.join('?' * len(values))})"
        args += [f'$."{key}"', *values]
    return sql, args
