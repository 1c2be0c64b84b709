"""Jobs in the registry's SQLite file in the data dir (the default engine); see rag/storage/jobs/types.py.

A claim is `BEGIN IMMEDIATE` (one writer at a time across processes) around a select and a conditional
update. The processes sharing the file share a machine, so heartbeats are read off its clock.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rag.storage.jobs.queries import ONE_SYNC_PER_SOURCE, SqlJobStore
from rag.storage.sqlite_file import SqliteFile

# Added after the first release: who holds a running job, since when it last said so, how often it was taken over.
LEASE_COLUMNS = {"worker": "TEXT", "heartbeat_at": "REAL", "takeovers": "INTEGER NOT NULL DEFAULT 0"}
# Added with OCR: scanned pages read so far, and to read, in the files the job has opened.
OCR_COLUMNS = {"ocr_pages_done": "INTEGER NOT NULL DEFAULT 0", "ocr_pages_total": "INTEGER NOT NULL DEFAULT 0"}
# Added with synced sources' one-sync-at-a-time rule: a sync job's source (NULL for uploads).
SOURCE_COLUMNS = {"source_id": "TEXT"}


class SqliteJobStore(SqlJobStore):
    CLAIM_LOCK = ""  # BEGIN IMMEDIATE has locked the whole file

    def __init__(self, path: Path) -> None:
        self.sql = SqliteFile(path, shared=True)  # one connection shared by the threads of this process
        self.sql.apply_schema("jobs")
        self.sql.add_missing_columns("jobs", {**LEASE_COLUMNS, **OCR_COLUMNS, **SOURCE_COLUMNS})
        # Here, not in jobs.sql: an older file gets the column it indexes only on the line above.
        with self.sql.using() as db:
            db.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_sync_per_source ON jobs {ONE_SYNC_PER_SOURCE}")

    def _clock(self) -> tuple[str, tuple[Any, ...]]:
        return "%s", (time.time(),)
