"""Chunk rows and their change log (the keyword index's source of truth): the protocol, one module per engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.storage.chunks.types import KeywordStore


def open_chunk_store(settings: Settings) -> KeywordStore:
    """The chunk rows of the configured engine: PostgreSQL when RAG_DATABASE_URL is set, else SQLite."""
    if settings.database_url:
        from rag.storage.chunks.postgres import PostgresKeywordStore
        from rag.storage.engine import open_database

        return PostgresKeywordStore(open_database(settings.database_url))
    from rag.storage.chunks.sqlite import SqliteKeywordStore

    return SqliteKeywordStore(settings.keyword_db)
