"""The job store's queries, written once for both engines (see types.py for how runners share jobs).

An engine's class (sqlite.py, postgres.py) supplies where they run (`sql`), whose clock heartbeats are
read off, and how a claim keeps other claimers off the row it picked.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rag.storage.clock import now
from rag.storage.jobs.types import ACTIVE, Job
from rag.storage.sql import Row, Sql

# The columns and condition of the unique index that keeps a source to one queued-or-running sync job: the
# SQLite file's (sqlite.py) and PostgreSQL's (migrations/0009_one_sync_per_source.sql) say the same.
ONE_SYNC_PER_SOURCE = "(source_id) WHERE source_id IS NOT NULL AND status IN ('queued', 'running')"


class SqlJobStore:
    sql: Sql
    CLAIM_LOCK: ClassVar[str]  # appended to the claim's SELECT: how it locks the row it picks

    def _clock(self) -> tuple[str, tuple[Any, ...]]:
        """The Unix time heartbeats are stamped and judged with, as SQL and its parameters."""
        raise NotImplementedError

    def submit(self, job_id: str, collection: str, files_total: int) -> Job:
        stamp = now()
        self.sql.change(
            "INSERT INTO jobs (id, collection, status, files_total, created_at, updated_at)"
            " VALUES (%s, %s, 'queued', %s, %s, %s)",
            (job_id, collection, files_total, stamp, stamp),
        )
        job = self.get(job_id)
        assert job is not None
        return job

    def submit_sync(self, job_id: str, collection: str, source_id: str) -> Job:
        while True:
            stamp = now()
            # The unique index on a source's active sync job (ONE_SYNC_PER_SOURCE) makes a second insert do
            # nothing: reading the source's last job and then inserting would let two callers both find none.
            inserted = self.sql.change(
                "INSERT INTO jobs (id, collection, status, files_total, source_id, created_at, updated_at)"
                f" VALUES (%s, %s, 'queued', 0, %s, %s, %s) ON CONFLICT {ONE_SYNC_PER_SOURCE} DO NOTHING",
                (job_id, collection, source_id, stamp, stamp),
            )
            if inserted:
                job = self.get(job_id)
                assert job is not None
                return job
            rows = self.sql.rows("SELECT * FROM jobs WHERE source_id = %s AND status IN (%s, %s)", (source_id, *ACTIVE))
            if rows:
                return _job(rows[0])
            # The job in the way ended between the two statements: the source has none active now, so try again.

    def get(self, job_id: str) -> Job | None:
        rows = self.sql.rows("SELECT * FROM jobs WHERE id = %s", (job_id,))
        return _job(rows[0]) if rows else None

    def claim(self, worker: str, lease_s: float, max_takeovers: int) -> Job | None:
        while True:
            with self.sql.transaction() as tx:
                clock, clock_args = self._clock()
                found = tx.rows(
                    "SELECT id, status, takeovers FROM jobs WHERE status = 'queued' OR (status = 'running'"
                    f" AND (heartbeat_at IS NULL OR heartbeat_at < {clock} - %s))"
                    f" ORDER BY created_at, id LIMIT 1{self.CLAIM_LOCK}",
                    (*clock_args, lease_s),
                )
                if not found:
                    return None
                job_id = found[0]["id"]
                takeovers = found[0]["takeovers"] + (found[0]["status"] == "running")
                if takeovers > max_takeovers:  # its runner died every time: a file that kills runners
                    error = f"its runner stopped answering {takeovers} times; not tried again"
                    tx.change(
                        "UPDATE jobs SET status = 'failed', error = %s, worker = NULL, updated_at = %s WHERE id = %s",
                        (error, now(), job_id),
                    )
                    continue
                tx.change(
                    f"UPDATE jobs SET status = 'running', worker = %s, heartbeat_at = {clock}, takeovers = %s,"
                    " files_done = 0, chunks_done = 0, results = '[]', ocr_pages_done = 0, ocr_pages_total = 0,"
                    " updated_at = %s WHERE id = %s",
                    (worker, *clock_args, takeovers, now(), job_id),
                )
                return _job(tx.rows("SELECT * FROM jobs WHERE id = %s", (job_id,))[0])

    def heartbeat(self, job_id: str, worker: str) -> bool:
        return self._update_held(job_id, worker, True)

    def record(self, job_id: str, worker: str, **fields: Any) -> bool:
        fields.pop("heartbeat_at", None)  # the store's clock sets it
        return self._update_held(job_id, worker, True, **fields)

    def release(self, job_id: str, worker: str) -> bool:
        return self._update_held(job_id, worker, False, status="queued", worker=None, heartbeat_at=None)

    def requeue_running(self) -> int:
        return self.sql.change(
            "UPDATE jobs SET status = 'queued', worker = NULL, heartbeat_at = NULL, updated_at = %s"
            " WHERE status = 'running'",
            (now(),),
        )

    def active_ids(self) -> list[str]:
        rows = self.sql.rows("SELECT id FROM jobs WHERE status IN (%s, %s) ORDER BY created_at", ACTIVE)
        return [str(r["id"]) for r in rows]

    def pending(self) -> int:
        return int(self.sql.rows("SELECT count(*) AS n FROM jobs WHERE status IN (%s, %s)", ACTIVE)[0]["n"])

    def fail(self, job_id: str, error: str) -> None:
        self.sql.change(
            "UPDATE jobs SET status = 'failed', error = %s, worker = NULL, updated_at = %s WHERE id = %s",
            (error, now(), job_id),
        )

    def cancel_collection(self, collection: str, reason: str) -> int:
        return self.sql.change(
            "UPDATE jobs SET status = 'cancelled', error = %s, worker = NULL, heartbeat_at = NULL, updated_at = %s"
            " WHERE collection = %s AND status IN (%s, %s)",
            (reason, now(), collection, *ACTIVE),
        )

    def _update_held(self, job_id: str, holder: str, beat: bool, /, **fields: Any) -> bool:
        """Update the job while `holder` holds it; `beat`: renew its heartbeat too."""
        assignments, args = [f"{name} = %s" for name in fields], list(fields.values())
        if beat:
            clock, clock_args = self._clock()
            assignments.append(f"heartbeat_at = {clock}")
            args += clock_args
        changed = self.sql.change(
            f"UPDATE jobs SET {', '.join(assignments)}, updated_at = %s"
            " WHERE id = %s AND worker = %s AND status = 'running'",
            [*args, now(), job_id, holder],
        )
        return changed == 1


def _job(row: Row) -> Job:
    return Job(**{**row, "results": json.loads(row["results"])})
