"""Synced sources in the registry's SQLite file in the data dir (the default engine); see types.py."""

from __future__ import annotations

from pathlib import Path

from rag.storage.sources.queries import SqlSourceStore
from rag.storage.sqlite_file import SqliteFile


class SqliteSourceStore(SqlSourceStore):
    UPSERT_ITEM = (
        "INSERT OR REPLACE INTO source_items (source_id, item_key, marker, document_id) VALUES (%s, %s, %s, %s)"
    )

    def __init__(self, path: Path) -> None:
        self.sql = SqliteFile(path, pragmas=("journal_mode=WAL", "synchronous=NORMAL"))
        self.sql.apply_schema("sources")
