"""Synced sources in the shared database (RAG_DATABASE_URL), seen by every replica and worker; see types.py."""

from __future__ import annotations

from rag.storage.engine import Database
from rag.storage.sources.queries import SqlSourceStore


class PostgresSourceStore(SqlSourceStore):
    UPSERT_ITEM = (
        "INSERT INTO source_items (source_id, item_key, marker, document_id) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (source_id, item_key) DO UPDATE SET marker = excluded.marker, document_id = excluded.document_id"
    )

    def __init__(self, database: Database) -> None:
        self.database = self.sql = database
