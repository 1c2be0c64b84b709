"""Scoped API keys in the database, stored as SHA-256 digests only: the key itself is shown once, at creation.

One class per engine behind `KeyStore`; `build_key_store(settings)` picks it. The server looks a key up on
every request (one indexed query), so a key created or revoked by another process counts at once.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rag.access import Principal, Role, check_key_name, check_role, key_digest, new_key
from rag.config import Settings
from rag.errors import Conflict, NotFound

if TYPE_CHECKING:
    from rag.storage.engine import Database

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    collections TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_live_names ON api_keys (name) WHERE revoked_at IS NULL;
"""  # collections: a JSON list of names, NULL for every collection (rag/storage/migrations/0003_api_keys.sql: the same)


@dataclass(frozen=True)
class KeyRecord:
    """What `rag keys list` shows: never the key, nor its digest."""

    name: str
    role: Role
    collections: list[str] | None
    created_at: str


class KeyStore(Protocol):
    def create(self, name: str, role: Role, collections: frozenset[str] | None) -> str:
        """Store a new key; returns it in plain text, the only time it exists outside the caller's hands."""
        ...

    def lookup(self, key: str) -> Principal | None: ...
    def records(self) -> list[KeyRecord]: ...
    def revoke(self, name: str) -> None: ...
    def has_keys(self) -> bool: ...
    def close(self) -> None: ...


def _collections_out(raw: str | None) -> list[str] | None:
    return None if raw is None else sorted(json.loads(raw))


def _collections_in(collections: frozenset[str] | None) -> str | None:
    return None if collections is None else json.dumps(sorted(collections))


class _SqlKeyStore:
    """The queries, the same on both engines (written with %s; SQLite's class turns them into ?). A revoked key
    keeps its row, marked revoked: its name is free again, and a server whose every key was revoked stays
    closed rather than opening to anyone."""

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _change(self, sql: str, args: tuple[Any, ...]) -> int:
        """Run a write; the number of rows it changed. Raises KeyError on a unique-constraint violation."""
        raise NotImplementedError

    def create(self, name: str, role: Role, collections: frozenset[str] | None) -> str:
        key = new_key()
        row = (check_key_name(name), key_digest(key), check_role(role), _collections_in(collections), _now())
        try:
            self._change(
                "INSERT INTO api_keys (name, digest, role, collections, created_at) VALUES (%s, %s, %s, %s, %s)", row
            )
        except KeyError as exc:
            raise Conflict(f"a key named {name!r} exists already (revoke it first, or pick another name)") from exc
        return key

    def lookup(self, key: str) -> Principal | None:
        sql = "SELECT name, role, collections FROM api_keys WHERE digest = %s AND revoked_at IS NULL"
        rows = self._rows(sql, (key_digest(key),))
        if not rows:
            return None
        name, role, raw = rows[0]
        scope = _collections_out(raw)
        return Principal(name, role, None if scope is None else frozenset(scope))

    def records(self) -> list[KeyRecord]:
        sql = "SELECT name, role, collections, created_at FROM api_keys WHERE revoked_at IS NULL ORDER BY name"
        return [KeyRecord(n, r, _collections_out(c), t) for n, r, c, t in self._rows(sql)]

    def revoke(self, name: str) -> None:
        sql = "UPDATE api_keys SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL"
        if not self._change(sql, (_now(), name)):
            raise NotFound(f"no key named {name!r} (see `rag keys list`)")

    def has_keys(self) -> bool:
        """True once any key was created, revoked ones included: auth then stays on."""
        return bool(self._rows("SELECT EXISTS (SELECT 1 FROM api_keys)")[0][0])


class SqliteKeyStore(_SqlKeyStore):
    """`keys.sqlite` in the data directory (its own file, readable by its owner only). WAL: the server's reads
    never wait for a CLI that creates or revokes a key."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))  # before SQLite creates it with the umask's mode
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=10, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SQLITE_SCHEMA)

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql.replace("%s", "?"), args).fetchall()

    def _change(self, sql: str, args: tuple[Any, ...]) -> int:
        try:
            with self._lock:
                return self._db.execute(sql.replace("%s", "?"), args).rowcount
        except sqlite3.IntegrityError as exc:
            raise KeyError(str(exc)) from exc

    def close(self) -> None:
        self._db.close()


class PostgresKeyStore(_SqlKeyStore):
    """The `api_keys` table of the shared database (RAG_DATABASE_URL): every replica sees a new or revoked key
    at its next request."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.database.connection() as conn:
            return conn.execute(sql, args).fetchall()

    def _change(self, sql: str, args: tuple[Any, ...]) -> int:
        import psycopg

        try:
            with self.database.connection() as conn:
                return conn.execute(sql, args).rowcount
        except psycopg.errors.UniqueViolation as exc:
            raise KeyError(str(exc)) from exc

    def close(self) -> None:
        """The database's pool belongs to the process (rag.storage.engine), not to this store."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def build_key_store(settings: Settings) -> KeyStore:
    """The store of the configured engine: PostgreSQL when RAG_DATABASE_URL is set, else SQLite in RAG_DATA_DIR."""
    if settings.database_url:
        from rag.storage.engine import open_database

        return PostgresKeyStore(open_database(settings.database_url))
    return SqliteKeyStore(settings.keys_db)
