"""Where ingestion jobs are kept and claimed: one small interface, one class per database engine.

Any number of runners (the thread inside `rag serve`, `rag worker` processes) share one store. A runner
claims a job atomically, heartbeats while it works, and writes progress only while it still holds the
job; a job whose heartbeat is older than the lease is claimable again, so the job of a runner that died
(kill -9 included) is taken over by another. Ingestion is idempotent (deterministic document and chunk
ids), so the taker simply runs the whole job again: files already stored come back `unchanged`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rag.config import Settings
from rag.storage.registry.types import now

if TYPE_CHECKING:
    from rag.storage.engine import Database

ACTIVE = ("queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    status TEXT NOT NULL,
    files_total INTEGER NOT NULL,
    files_done INTEGER NOT NULL DEFAULT 0,
    chunks_done INTEGER NOT NULL DEFAULT 0,
    results TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""
# Added after the first release: who holds a running job, since when it last said so, how often it was taken over.
_LEASE_COLUMNS = {"worker": "TEXT", "heartbeat_at": "REAL", "takeovers": "INTEGER NOT NULL DEFAULT 0"}


@dataclass
class Job:
    id: str
    collection: str
    status: str  # queued | running | done | failed
    files_total: int
    files_done: int
    chunks_done: int
    results: list[dict[str, Any]]
    error: str | None
    created_at: str
    updated_at: str
    worker: str | None = None  # the runner holding it while `running`
    heartbeat_at: float | None = None  # Unix time of its runner's last heartbeat
    takeovers: int = 0  # times it was claimed again after its runner went silent

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["status"] == "failed"]


class JobStore(Protocol):
    """Jobs shared by every runner. Writes that name a `worker` only take effect while it holds the job."""

    def submit(self, job_id: str, collection: str, files_total: int) -> Job: ...
    def get(self, job_id: str) -> Job | None: ...
    def claim(self, worker: str, lease_s: float, max_takeovers: int) -> Job | None:
        """The oldest queued job, or a running one whose heartbeat is older than `lease_s`, now held by
        `worker`; None when there is none. A job taken over more than `max_takeovers` times fails instead."""
        ...

    def heartbeat(self, job_id: str, worker: str) -> bool:
        """False when `worker` no longer holds the job (another took it over): it must stop."""
        ...

    def record(self, job_id: str, worker: str, **fields: Any) -> bool: ...
    def release(self, job_id: str, worker: str) -> bool:
        """Hand a job back to the queue (a runner stopping cleanly)."""
        ...

    def requeue_running(self) -> int:
        """Queue again every running job: only for a process that knows no other runner exists."""
        ...

    def active_ids(self) -> list[str]: ...
    def pending(self) -> int: ...
    def fail(self, job_id: str, error: str) -> None: ...


class SqliteJobStore:
    """Jobs in the registry's SQLite file. A claim is `BEGIN IMMEDIATE` (one writer at a time across
    processes) around a select and a conditional update; on PostgreSQL the same claim is one statement:
    `UPDATE jobs SET status = 'running', worker = %s, ... WHERE id = (SELECT id FROM jobs WHERE <claimable>
    ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING *`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self._lock = threading.Lock()  # one connection shared by the threads of this process
        self.db.executescript(_SCHEMA)
        have = {row["name"] for row in self.db.execute("PRAGMA table_info(jobs)")}
        for name, kind in _LEASE_COLUMNS.items():
            if name not in have:
                try:
                    self.db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
                except sqlite3.OperationalError:  # another process added it meanwhile
                    pass

    def submit(self, job_id: str, collection: str, files_total: int) -> Job:
        stamp = now()
        with self._lock:
            self.db.execute(
                "INSERT INTO jobs (id, collection, status, files_total, created_at, updated_at)"
                " VALUES (?, ?, 'queued', ?, ?, ?)",
                (job_id, collection, files_total, stamp, stamp),
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def claim(self, worker: str, lease_s: float, max_takeovers: int) -> Job | None:
        stale = time.time() - lease_s
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                job_id = self._claim(worker, stale, max_takeovers)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        return self.get(job_id) if job_id else None

    def _claim(self, worker: str, stale: float, max_takeovers: int) -> str | None:
        while True:
            row = self.db.execute(
                "SELECT id, status, takeovers FROM jobs WHERE status = 'queued'"
                " OR (status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < ?))"
                " ORDER BY created_at, id LIMIT 1",
                (stale,),
            ).fetchone()
            if row is None:
                return None
            takeovers = row["takeovers"] + (row["status"] == "running")
            if takeovers > max_takeovers:  # its runner died every time: a file that kills runners
                self.db.execute(
                    "UPDATE jobs SET status = 'failed', error = ?, worker = NULL, updated_at = ? WHERE id = ?",
                    (f"its runner stopped answering {takeovers} times; not tried again", now(), row["id"]),
                )
                continue
            self.db.execute(
                "UPDATE jobs SET status = 'running', worker = ?, heartbeat_at = ?, takeovers = ?,"
                " files_done = 0, chunks_done = 0, results = '[]', updated_at = ? WHERE id = ?",
                (worker, time.time(), takeovers, now(), row["id"]),
            )
            return str(row["id"])

    def heartbeat(self, job_id: str, worker: str) -> bool:
        return self._update_held(job_id, worker, heartbeat_at=time.time())

    def record(self, job_id: str, worker: str, **fields: Any) -> bool:
        return self._update_held(job_id, worker, heartbeat_at=time.time(), **fields)

    def release(self, job_id: str, worker: str) -> bool:
        return self._update_held(job_id, worker, status="queued", worker=None, heartbeat_at=None)

    def requeue_running(self) -> int:
        with self._lock:
            cur = self.db.execute(
                "UPDATE jobs SET status = 'queued', worker = NULL, heartbeat_at = NULL, updated_at = ?"
                " WHERE status = 'running'",
                (now(),),
            )
        return cur.rowcount

    def active_ids(self) -> list[str]:
        with self._lock:
            rows = self.db.execute("SELECT id FROM jobs WHERE status IN (?, ?) ORDER BY created_at", ACTIVE).fetchall()
        return [str(r[0]) for r in rows]

    def pending(self) -> int:
        with self._lock:
            row = self.db.execute("SELECT count(*) FROM jobs WHERE status IN (?, ?)", ACTIVE).fetchone()
        return int(row[0])

    def fail(self, job_id: str, error: str) -> None:
        with self._lock:
            self.db.execute(
                "UPDATE jobs SET status = 'failed', error = ?, worker = NULL, updated_at = ? WHERE id = ?",
                (error, now(), job_id),
            )

    def _update_held(self, job_id: str, holder: str, /, **fields: Any) -> bool:
        assignments = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            cur = self.db.execute(
                f"UPDATE jobs SET {assignments}, updated_at = ? WHERE id = ? AND worker = ? AND status = 'running'",
                [*fields.values(), now(), job_id, holder],
            )
        return cur.rowcount == 1


_DB_NOW = "extract(epoch FROM clock_timestamp())"  # the database's clock: workers' clocks may disagree


class PostgresJobStore:
    """Jobs in the shared database (RAG_DATABASE_URL), for workers on any machine. A claim locks the oldest
    claimable row with `FOR UPDATE SKIP LOCKED`, so claimers never wait for each other nor get one job
    twice; heartbeats and leases are read off the database's clock."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        from psycopg.rows import dict_row

        with self.database.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else []

    def submit(self, job_id: str, collection: str, files_total: int) -> Job:
        stamp = now()
        self._rows(
            "INSERT INTO jobs (id, collection, status, files_total, created_at, updated_at)"
            " VALUES (%s, %s, 'queued', %s, %s, %s)",
            (job_id, collection, files_total, stamp, stamp),
        )
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        rows = self._rows("SELECT * FROM jobs WHERE id = %s", (job_id,))
        return _job(rows[0]) if rows else None

    def claim(self, worker: str, lease_s: float, max_takeovers: int) -> Job | None:
        from psycopg.rows import dict_row

        with self.database.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            while True:
                with conn.transaction():
                    cur.execute(
                        "SELECT id, status, takeovers FROM jobs WHERE status = 'queued' OR (status = 'running'"
                        f" AND (heartbeat_at IS NULL OR heartbeat_at < {_DB_NOW} - %s))"
                        " ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
                        (lease_s,),
                    )
                    row = cur.fetchone()
                    if row is None:
                        return None
                    takeovers = row["takeovers"] + (row["status"] == "running")
                    if takeovers > max_takeovers:  # its runner died every time: a file that kills runners
                        error = f"its runner stopped answering {takeovers} times; not tried again"
                        cur.execute(
                            "UPDATE jobs SET status = 'failed', error = %s, worker = NULL, updated_at = %s"
                            " WHERE id = %s",
                            (error, now(), row["id"]),
                        )
                        continue
                    cur.execute(
                        f"UPDATE jobs SET status = 'running', worker = %s, heartbeat_at = {_DB_NOW}, takeovers = %s,"
                        " files_done = 0, chunks_done = 0, results = '[]', updated_at = %s WHERE id = %s RETURNING *",
                        (worker, takeovers, now(), row["id"]),
                    )
                    return _job(cur.fetchone())

    def heartbeat(self, job_id: str, worker: str) -> bool:
        return self._update_held(job_id, worker)

    def record(self, job_id: str, worker: str, **fields: Any) -> bool:
        fields.pop("heartbeat_at", None)  # set from the database's clock below
        return self._update_held(job_id, worker, **fields)

    def release(self, job_id: str, worker: str) -> bool:
        return self._update_held(job_id, worker, status="queued", worker=None, heartbeat_at=None)

    def requeue_running(self) -> int:
        with self.database.connection() as conn:
            return conn.execute(
                "UPDATE jobs SET status = 'queued', worker = NULL, heartbeat_at = NULL, updated_at = %s"
                " WHERE status = 'running'",
                (now(),),
            ).rowcount

    def active_ids(self) -> list[str]:
        rows = self._rows("SELECT id FROM jobs WHERE status IN (%s, %s) ORDER BY created_at", ACTIVE)
        return [str(r["id"]) for r in rows]

    def pending(self) -> int:
        return int(self._rows("SELECT count(*) AS n FROM jobs WHERE status IN (%s, %s)", ACTIVE)[0]["n"])

    def fail(self, job_id: str, error: str) -> None:
        self._rows(
            "UPDATE jobs SET status = 'failed', error = %s, worker = NULL, updated_at = %s WHERE id = %s",
            (error, now(), job_id),
        )

    def _update_held(self, job_id: str, holder: str, /, **fields: Any) -> bool:
        """Update the job while `holder` holds it, renewing its heartbeat unless `fields` sets one."""
        assignments = [f"{k} = %s" for k in fields]
        if "heartbeat_at" not in fields:
            assignments.append(f"heartbeat_at = {_DB_NOW}")
        with self.database.connection() as conn:
            cur = conn.execute(
                f"UPDATE jobs SET {', '.join(assignments)}, updated_at = %s"
                " WHERE id = %s AND worker = %s AND status = 'running'",
                [*fields.values(), now(), job_id, holder],
            )
            return cur.rowcount == 1


def _job(row: sqlite3.Row | dict[str, Any]) -> Job:
    data = dict(row)
    data["results"] = json.loads(data["results"])
    return Job(**data)


def open_job_store(settings: Settings) -> JobStore:
    """The job store of the configured engine: PostgreSQL when RAG_DATABASE_URL is set, else the registry's
    SQLite file in the data directory."""
    if settings.database_url:
        from rag.storage.engine import open_database

        return PostgresJobStore(open_database(settings.database_url))
    return SqliteJobStore(settings.registry_db)
