"""Jobs in the shared database (RAG_DATABASE_URL), for workers on any machine; see rag/storage/jobs/types.py.

A claim locks the oldest claimable row with `FOR UPDATE SKIP LOCKED`, so claimers never wait for each
other nor get one job twice; heartbeats and leases are read off the database's clock, since the workers'
clocks may disagree.
"""

from __future__ import annotations

from typing import Any

from rag.storage.engine import Database
from rag.storage.jobs.queries import SqlJobStore

_DB_NOW = "extract(epoch FROM clock_timestamp())"


class PostgresJobStore(SqlJobStore):
    CLAIM_LOCK = " FOR UPDATE SKIP LOCKED"

    def __init__(self, database: Database) -> None:
        self.database = self.sql = database

    def _clock(self) -> tuple[str, tuple[Any, ...]]:
        return _DB_NOW, ()
