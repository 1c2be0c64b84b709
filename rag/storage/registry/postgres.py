"""The document registry in PostgreSQL (RAG_DATABASE_URL), shared by every process on every machine.

Writer leases are session advisory locks: a writing process takes a lease number from a sequence and
holds the lock (LOCK_WRITER_LEASE, number) on a connection of its own for as long as it lives. PostgreSQL
drops the lock when that session ends, however the process ends (and TCP keepalives end the session of a
machine that vanished), so recovery on any machine can tell a live writer from one that is gone.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from rag.storage.engine import LOCK_WRITER_LEASE, Database
from rag.storage.registry.types import CollectionRecord, DocumentRecord, now

_LEASE_PREFIX = "pg-"


class PostgresRegistry:
    def __init__(self, database: Database) -> None:
        self.database = database

    def _rows(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        with self.database.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(sql, args).fetchall()

    def _count(self, sql: str, args: Any) -> int:
        with self.database.connection() as conn:
            return conn.execute(sql, args).rowcount

    # Collections -----------------------------------------------------------------------------

    def ensure_collection(self, name: str, description: str = "") -> bool:
        return (
            self._count(
                "INSERT INTO collections (name, description, created_at) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (name, description, now()),
            )
            == 1
        )

    def collections(self) -> list[CollectionRecord]:
        rows = self._rows(
            "SELECT c.name, c.description, c.created_at, count(d.document_id)::int AS documents,"
            " coalesce(sum(d.chunk_count), 0)::int AS chunks FROM collections c"
            " LEFT JOIN documents d ON d.collection = c.name AND d.version IS NOT NULL"
            " GROUP BY c.name ORDER BY c.name"
        )
        return [CollectionRecord(**r) for r in rows]

    def exists(self, name: str) -> bool:
        return bool(self._rows("SELECT 1 FROM collections WHERE name = %s", (name,)))

    def collection(self, name: str) -> CollectionRecord | None:
        return next((c for c in self.collections() if c.name == name), None)

    def delete_collection(self, name: str) -> None:
        with self.database.connection() as conn, conn.transaction():
            conn.execute("DELETE FROM documents WHERE collection = %s", (name,))
            conn.execute("DELETE FROM collections WHERE name = %s", (name,))

    # Documents -------------------------------------------------------------------------------

    def get(self, collection: str, document_id: str) -> DocumentRecord | None:
        rows = self._rows(
            "SELECT * FROM documents WHERE collection = %s AND document_id = %s", (collection, document_id)
        )
        return DocumentRecord(**rows[0]) if rows else None

    def documents(self, collection: str, status: str | None = "ready") -> list[DocumentRecord]:
        sql, args = "SELECT * FROM documents WHERE collection = %s", [collection]
        if status == "ready":  # a document being replaced keeps its live version meanwhile
            sql += " AND version IS NOT NULL"
        elif status:
            sql, args = sql + " AND status = %s", [*args, status]
        return [DocumentRecord(**r) for r in self._rows(sql + " ORDER BY updated_at DESC, document_id", args)]

    def pending(self) -> list[DocumentRecord]:
        return [DocumentRecord(**r) for r in self._rows("SELECT * FROM documents WHERE status = 'ingesting'")]

    def begin(
        self,
        collection: str,
        document_id: str,
        filename: str,
        size: int,
        sha256: str,
        version: str,
        metadata: dict[str, Any],
        writer: str | None = None,
    ) -> None:
        stamp = now()
        self.ensure_collection(collection)
        self._count(
            "INSERT INTO documents (collection, document_id, filename, size, sha256, pending_version, status,"
            " metadata, created_at, updated_at, writer) VALUES (%s, %s, %s, %s, %s, %s, 'ingesting', %s, %s, %s, %s)"
            " ON CONFLICT (collection, document_id) DO UPDATE SET pending_version = excluded.pending_version,"
            " status = 'ingesting', updated_at = excluded.updated_at, writer = excluded.writer",
            (collection, document_id, filename, size, sha256, version, Jsonb(metadata), stamp, stamp, writer),
        )

    def finish(
        self,
        collection: str,
        document_id: str,
        *,
        filename: str,
        size: int,
        sha256: str,
        version: str,
        chunk_count: int,
        pages: int | None,
        metadata: dict[str, Any],
        left_by: str | None = None,
    ) -> bool:
        sql = (
            "UPDATE documents SET filename = %s, size = %s, sha256 = %s, version = %s, pending_version = NULL,"
            " status = 'ready', chunk_count = %s, pages = %s, metadata = %s, updated_at = %s, writer = NULL"
            " WHERE collection = %s AND document_id = %s"
        )
        args: list[Any] = [filename, size, sha256, version, chunk_count, pages, Jsonb(metadata), now()]
        args += [collection, document_id]
        if left_by is not None:
            sql, args = sql + " AND status = 'ingesting' AND writer IS NOT DISTINCT FROM %s", [*args, left_by]
        return self._count(sql, args) == 1

    def abandon(self, collection: str, document_id: str, left_by: str | None = None) -> bool:
        where, args = "collection = %s AND document_id = %s", [collection, document_id]
        if left_by is not None:
            where, args = where + " AND status = 'ingesting' AND writer IS NOT DISTINCT FROM %s", [*args, left_by]
        with self.database.connection() as conn, conn.transaction():
            gone = conn.execute(f"DELETE FROM documents WHERE {where} AND version IS NULL", args).rowcount
            kept = conn.execute(
                f"UPDATE documents SET status = 'ready', pending_version = NULL, writer = NULL WHERE {where}", args
            ).rowcount
        return gone + kept > 0

    def delete(self, collection: str, document_id: str) -> None:
        self._count("DELETE FROM documents WHERE collection = %s AND document_id = %s", (collection, document_id))

    # Writer leases: session advisory locks -----------------------------------------------------

    def writer_lease(self) -> str:
        return _lease(self.database)

    def live_writers(self) -> set[str]:
        rows = self._rows(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = %s"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (LOCK_WRITER_LEASE,),
        )
        return {f"{_LEASE_PREFIX}{r['objid']}" for r in rows}


# One lease per process and database, on a connection kept open (outside the pool) until the process ends.
_leases: dict[str, tuple[str, psycopg.Connection]] = {}
_guard = threading.Lock()


def _lease(database: Database) -> str:
    with _guard:
        held = _leases.get(database.url)
        if held is not None and not held[1].closed:
            return held[0]
        conn = database.connect()
        while True:  # the sequence cycles: skip a number whose holder still lives
            number = conn.execute("SELECT nextval('writer_lease_seq')").fetchone()[0]  # type: ignore[index]
            if conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_WRITER_LEASE, number)).fetchone()[0]:  # type: ignore[index]
                break
        lease = f"{_LEASE_PREFIX}{number}"
        _leases[database.url] = (lease, conn)
        return lease
