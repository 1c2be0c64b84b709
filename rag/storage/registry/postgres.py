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
from psycopg.types.json import Jsonb

from rag.storage.engine import LOCK_WRITER_LEASE, Database
from rag.storage.registry.queries import SqlRegistry

_LEASE_PREFIX = "pg-"


class PostgresRegistry(SqlRegistry):
    INSERT_COLLECTION = (
        "INSERT INTO collections (name, description, created_at) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
    )
    SAME_WRITER = "writer IS NOT DISTINCT FROM %s"

    def __init__(self, database: Database) -> None:
        self.database = self.sql = database

    def _metadata_in(self, metadata: dict[str, Any]) -> Jsonb:
        return Jsonb(metadata)

    def _metadata_out(self, stored: dict[str, Any]) -> dict[str, Any]:
        return stored  # jsonb comes back decoded

    # Writer leases: session advisory locks -----------------------------------------------------

    def writer_lease(self) -> str:
        return _lease(self.database)

    def live_writers(self) -> set[str]:
        rows = self.sql.rows(
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
