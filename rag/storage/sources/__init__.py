"""Synced sources and their items' last-synced state. types.py holds the records and the `SourceStore`
protocol, queries.py the SQL both engines share, sqlite.py and postgres.py the engines; `open_source_store`
picks one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.storage.engine import open_store
from rag.storage.sources.types import ItemState, SourceRecord, SourceStore

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.storage.engine import Database

__all__ = ["ItemState", "SourceRecord", "SourceStore", "open_source_store"]


def open_source_store(settings: Settings) -> SourceStore:
    """The source store of the configured engine (rag.storage.engine.open_store); with SQLite, in the
    registry's file."""
    return open_store(settings, sqlite=_sqlite, postgres=_postgres)


def _sqlite(settings: Settings) -> SourceStore:
    from rag.storage.sources.sqlite import SqliteSourceStore

    return SqliteSourceStore(settings.registry_db)


def _postgres(database: Database) -> SourceStore:
    from rag.storage.sources.postgres import PostgresSourceStore

    return PostgresSourceStore(database)
