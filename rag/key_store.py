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
from typing import Protocol

from rag.access import Principal, Role, check_key_name, check_role, key_digest, new_key
from rag.config import Settings
from rag.errors import Conflict, NotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    collections TEXT,
    created_at TEXT NOT NULL
)
"""  # collections: a JSON list of names, NULL for every collection


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


class SqliteKeyStore:
    """`keys.sqlite` in the data directory (its own file, readable by its owner only). WAL: the server's reads
    never wait for a CLI that creates or revokes a key."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))  # before SQLite creates it with the umask's mode
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=10, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)

    def create(self, name: str, role: Role, collections: frozenset[str] | None) -> str:
        key = new_key()
        row = (check_key_name(name), key_digest(key), check_role(role), _collections_in(collections), _now())
        try:
            with self._lock:
                self._db.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?)", row)
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"a key named {name!r} exists already (revoke it first, or pick another name)") from exc
        return key

    def lookup(self, key: str) -> Principal | None:
        with self._lock:
            sql = "SELECT name, role, collections FROM api_keys WHERE digest = ?"
            row = self._db.execute(sql, (key_digest(key),)).fetchone()
        if row is None:
            return None
        scope = _collections_out(row[2])
        return Principal(row[0], row[1], None if scope is None else frozenset(scope))

    def records(self) -> list[KeyRecord]:
        with self._lock:
            rows = self._db.execute("SELECT name, role, collections, created_at FROM api_keys ORDER BY name")
            return [KeyRecord(n, r, _collections_out(c), t) for n, r, c, t in rows.fetchall()]

    def revoke(self, name: str) -> None:
        with self._lock:
            deleted = self._db.execute("DELETE FROM api_keys WHERE name = ?", (name,)).rowcount
        if not deleted:
            raise NotFound(f"no key named {name!r} (see `rag keys list`)")

    def has_keys(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT EXISTS (SELECT 1 FROM api_keys)").fetchone()[0] == 1

    def close(self) -> None:
        self._db.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def build_key_store(settings: Settings) -> KeyStore:
    """The store the settings name: SQLite in RAG_DATA_DIR (the only engine so far)."""
    return SqliteKeyStore(settings.keys_db)
