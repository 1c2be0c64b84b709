"""The keyword index's chunk rows and change log in PostgreSQL (RAG_DATABASE_URL), shared by every process.

PostgreSQL runs writers side by side, so change numbers are taken under a transaction advisory lock held
until commit: a change numbered n is then committed before any change numbered above n, and a reader
whose snapshot shows change n has every change below it, so "changed since the position I saw" never
misses one. A reader takes the change list and the rows it points to from one REPEATABLE READ snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from rag.storage.chunks.types import Changes
from rag.storage.engine import LOCK_KEYWORD_CHANGES, Database
from rag.types import Chunk


class PostgresKeywordStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    @contextmanager
    def _writing(self) -> Iterator[psycopg.Connection]:
        with self.database.connection() as conn, conn.transaction():
            yield conn

    @staticmethod
    def _mark_changed(conn: psycopg.Connection, collection: str, document_ids: Sequence[str]) -> None:
        """Last in the writing transaction (the lock is held until commit, so keep what follows short)."""
        conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_KEYWORD_CHANGES,))
        seq = conn.execute("SELECT nextval('keyword_change_seq')").fetchone()[0]  # type: ignore[index]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO keyword_changes (collection, document_id, seq) VALUES (%s, %s, %s)"
                " ON CONFLICT (collection, document_id) DO UPDATE SET seq = excluded.seq",
                [(collection, document_id, seq) for document_id in document_ids],
            )

    def replace_document(self, collection: str, document_id: str, version: str, chunks: Sequence[Chunk]) -> None:
        with self._writing() as conn:
            conn.execute("DELETE FROM chunks WHERE collection = %s AND document_id = %s", (collection, document_id))
            with (
                conn.cursor() as cur,
                cur.copy("COPY chunks (chunk_id, collection, document_id, version, text, metadata) FROM STDIN") as copy,
            ):
                for chunk in chunks:
                    copy.write_row(
                        (chunk.chunk_id, collection, document_id, version, chunk.text, Jsonb(chunk.metadata))
                    )
            self._mark_changed(conn, collection, [document_id])

    def delete_document(self, collection: str, document_id: str) -> None:
        with self._writing() as conn:
            conn.execute("DELETE FROM chunks WHERE collection = %s AND document_id = %s", (collection, document_id))
            self._mark_changed(conn, collection, [document_id])

    def delete_collection(self, collection: str) -> None:
        with self._writing() as conn:
            documents = [
                r[0]
                for r in conn.execute(
                    "SELECT document_id FROM chunks WHERE collection = %(c)s"
                    " UNION SELECT document_id FROM keyword_changes WHERE collection = %(c)s",
                    {"c": collection},
                )
            ]
            conn.execute("DELETE FROM chunks WHERE collection = %s", (collection,))
            self._mark_changed(conn, collection, documents)

    def _rows(self, sql: str, args: Sequence[Any] | dict[str, Any]) -> list[tuple[Any, ...]]:
        with self.database.connection() as conn:
            return conn.execute(sql, args).fetchall()

    def document_version(self, collection: str, document_id: str) -> str | None:
        rows = self._rows(
            "SELECT version FROM chunks WHERE collection = %s AND document_id = %s LIMIT 1", (collection, document_id)
        )
        return rows[0][0] if rows else None

    def count(self, collection: str, document_id: str | None = None) -> int:
        sql, args = "SELECT count(*) FROM chunks WHERE collection = %s", [collection]
        if document_id is not None:
            sql, args = sql + " AND document_id = %s", [*args, document_id]
        return int(self._rows(sql, args)[0][0])

    def document_chunks(self, collection: str, document_id: str) -> list[Chunk]:
        rows = self._rows(
            "SELECT chunk_id, text, metadata FROM chunks WHERE collection = %s AND document_id = %s ORDER BY id",
            (collection, document_id),
        )
        return [Chunk(cid, document_id, collection, text, meta) for cid, text, meta in rows]

    def first_chunks(self, collection: str, limit: int, filters: dict[str, Any] | None = None) -> list[Chunk]:
        where, args = _matching(filters)
        rows = self._rows(
            "SELECT chunk_id, document_id, text, metadata FROM chunks WHERE id IN"
            f" (SELECT min(id) FROM chunks WHERE collection = %s{where} GROUP BY document_id) ORDER BY id LIMIT %s",
            (collection, *args, limit),
        )
        return [Chunk(cid, doc, collection, text, meta) for cid, doc, text, meta in rows]

    def fetch(self, collection: str, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        rows = self._rows(
            "SELECT chunk_id, document_id, text, metadata FROM chunks WHERE collection = %s AND chunk_id = ANY(%s)",
            (collection, list(chunk_ids)),
        )
        return {cid: Chunk(cid, doc, collection, text, meta) for cid, doc, text, meta in rows}

    def filtered_ids(self, collection: str, filters: dict[str, Any]) -> np.ndarray:
        where, args = _matching(filters)
        rows = self._rows(f"SELECT id FROM chunks WHERE collection = %s{where}", [collection, *args])
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def changes_since(self, collection: str, seen: int) -> Changes | None:
        if seen < 0:  # first use: the whole collection, streamed
            found = self._rows("SELECT coalesce(max(seq), 0) FROM keyword_changes WHERE collection = %s", (collection,))
            return Changes(int(found[0][0]), None, self._all_rows(collection))
        with self.database.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            rows = conn.execute(
                "SELECT document_id, seq FROM keyword_changes WHERE collection = %s AND seq > %s",
                (collection, seen),
            ).fetchall()
            if not rows:
                return None
            changed, latest = [r[0] for r in rows], max(r[1] for r in rows)
            chunk_rows = conn.execute(
                _ROWS + " AND document_id = ANY(%s) ORDER BY document_id, id", (collection, changed)
            ).fetchall()
        return Changes(latest, changed, chunk_rows)

    def _all_rows(self, collection: str) -> Iterator[tuple[str, int, str, str]]:
        """Every row of the collection through a server-side cursor, a page at a time (its snapshot is taken
        after the change log position was read: newer rows are only loaded twice, never missed)."""
        with self.database.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            with conn.cursor(name="keyword_rows") as cursor:
                cursor.itersize = 2048
                cursor.execute(_ROWS + " ORDER BY document_id, id", (collection,))
                yield from cursor


# The keyword index reads each chunk's contextual header (rag/text/headings.py) before its text.
_ROWS = (
    "SELECT document_id, id, chunk_id, coalesce((metadata ->> 'context') || E'\\n', '') || text"
    " FROM chunks WHERE collection = %s"
)


def _matching(filters: dict[str, Any] | None) -> tuple[str, list[Any]]:
    """`AND ...` clauses for chunks whose metadata matches the filters (a list: any of), and their arguments."""
    sql, args = "", []
    for key, value in (filters or {}).items():
        values = value if isinstance(value, list) else [value]
        sql += " AND metadata -> %s = ANY(%s)"
        args += [key, [Jsonb(v) for v in values]]
    return sql, args
