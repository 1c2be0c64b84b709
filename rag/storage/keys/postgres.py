"""API keys in the `api_keys` table of the shared database (RAG_DATABASE_URL): every replica sees a new or
revoked key at its next request; see rag/storage/keys/types.py."""

from __future__ import annotations

from rag.storage.engine import Database
from rag.storage.keys.queries import SqlKeyStore


class PostgresKeyStore(SqlKeyStore):
    def __init__(self, database: Database) -> None:
        self.database = self.sql = database

    def close(self) -> None:
        """The database's pool belongs to the process (rag.storage.engine), not to this store."""
