"""Scoped API keys, stored as digests. types.py holds `KeyRecord` and the `KeyStore` protocol, queries.py
the SQL both engines share, sqlite.py and postgres.py the engines; `build_key_store` picks one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.storage.engine import open_store
from rag.storage.keys.types import KeyRecord, KeyStore

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.storage.engine import Database

__all__ = ["KeyRecord", "KeyStore", "build_key_store"]


def build_key_store(settings: Settings) -> KeyStore:
    """The key store of the configured engine (rag.storage.engine.open_store); with SQLite, keys.sqlite in
    RAG_DATA_DIR."""
    return open_store(settings, sqlite=_sqlite, postgres=_postgres)


def _sqlite(settings: Settings) -> KeyStore:
    from rag.storage.keys.sqlite import SqliteKeyStore

    return SqliteKeyStore(settings.keys_db)


def _postgres(database: Database) -> KeyStore:
    from rag.storage.keys.postgres import PostgresKeyStore

    return PostgresKeyStore(database)
