"""The document registry: what was ingested, where, and in which state. types.py holds the records and the
protocol, queries.py the SQL both engines share, sqlite.py and postgres.py the engines; `open_registry` picks one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.storage.engine import open_store
from rag.storage.registry.types import CollectionRecord, DocumentRecord, Registry

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.storage.engine import Database

__all__ = ["CollectionRecord", "DocumentRecord", "Registry", "open_registry"]


def open_registry(settings: Settings) -> Registry:
    """The registry of the configured engine (rag.storage.engine.open_store)."""
    return open_store(settings, sqlite=_sqlite, postgres=_postgres)


def _sqlite(settings: Settings) -> Registry:
    from rag.storage.registry.sqlite import SqliteRegistry

    return SqliteRegistry(settings.registry_db, settings.data_dir)


def _postgres(database: Database) -> Registry:
    from rag.storage.registry.postgres import PostgresRegistry

    return PostgresRegistry(database)
