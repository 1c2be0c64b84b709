"""Chunk rows and their change log (the keyword index's source of truth). types.py holds the protocol,
sqlite.py and postgres.py the engines; `open_chunk_store` picks one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.storage.chunks.types import Changes, KeywordStore
from rag.storage.engine import open_store

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.storage.engine import Database

__all__ = ["Changes", "KeywordStore", "open_chunk_store"]


def open_chunk_store(settings: Settings) -> KeywordStore:
    """The chunk rows of the configured engine (rag.storage.engine.open_store)."""
    return open_store(settings, sqlite=_sqlite, postgres=_postgres)


def _sqlite(settings: Settings) -> KeywordStore:
    from rag.storage.chunks.sqlite import SqliteKeywordStore

    return SqliteKeywordStore(settings.keyword_db)


def _postgres(database: Database) -> KeywordStore:
    from rag.storage.chunks.postgres import PostgresKeywordStore

    return PostgresKeywordStore(database)
