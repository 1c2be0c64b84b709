"""The document registry: what was ingested, where, and in which state; the protocol, one module per engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.storage.registry.types import Registry


def open_registry(settings: Settings) -> Registry:
    """The registry of the configured engine: PostgreSQL when RAG_DATABASE_URL is set, else SQLite."""
    if settings.database_url:
        from rag.storage.engine import open_database
        from rag.storage.registry.postgres import PostgresRegistry

        return PostgresRegistry(open_database(settings.database_url))
    from rag.storage.registry.sqlite import SqliteRegistry

    return SqliteRegistry(settings.registry_db, settings.data_dir)
