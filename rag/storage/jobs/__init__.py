"""Where ingestion jobs are kept and claimed. types.py holds `Job` and the `JobStore` protocol, queries.py
the SQL both engines share, sqlite.py and postgres.py the engines; `open_job_store` picks one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.storage.engine import open_store
from rag.storage.jobs.types import Job, JobStore

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.storage.engine import Database

__all__ = ["Job", "JobStore", "open_job_store"]


def open_job_store(settings: Settings) -> JobStore:
    """The job store of the configured engine (rag.storage.engine.open_store); with SQLite, in the
    registry's file."""
    return open_store(settings, sqlite=_sqlite, postgres=_postgres)


def _sqlite(settings: Settings) -> JobStore:
    from rag.storage.jobs.sqlite import SqliteJobStore

    return SqliteJobStore(settings.registry_db)


def _postgres(database: Database) -> JobStore:
    from rag.storage.jobs.postgres import PostgresJobStore

    return PostgresJobStore(database)
