"""A SQLite file in the data dir as the stores use it: its schema from the packaged .sql files, its
connections, and the shared queries (rag/storage/sql.py) run on it with `?` for `%s`.

Connections are in autocommit mode (`isolation_level=None`); transactions are explicit, `BEGIN IMMEDIATE`,
so a writer takes SQLite's one write lock up front instead of failing to upgrade a read lock halfway.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from rag.storage.sql import DuplicateRow, Row

_DUPLICATE = {sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY}


def sqlite_schema(name: str) -> str:
    """The packaged schema `name` (rag/storage/sqlite_schema/<name>.sql): idempotent, run at every open."""
    return resources.files("rag.storage.sqlite_schema").joinpath(f"{name}.sql").read_text(encoding="utf-8")


class SqliteFile:
    """One SQLite file. `shared=False`: a connection per thread, which SQLite lets read side by side;
    `shared=True`: one connection for all the process's threads, taken in turn."""

    def __init__(self, path: Path, *, timeout: float = 30, pragmas: Sequence[str] = (), shared: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.timeout, self.pragmas = path, timeout, tuple(pragmas)
        self._local = threading.local()
        self._lock = threading.RLock()  # re-entrant: statements inside a transaction() take it again
        self._shared = self._open() if shared else None

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        for pragma in self.pragmas:
            db.execute(f"PRAGMA {pragma}")
        return db

    def connect(self) -> sqlite3.Connection:
        """The connection of this thread (or the shared one: use it inside `using()`)."""
        if self._shared is not None:
            return self._shared
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._open()
        return db

    @contextmanager
    def using(self) -> Iterator[sqlite3.Connection]:
        """The connection, held by this thread alone meanwhile when it is the shared one."""
        if self._shared is None:
            yield self.connect()
            return
        with self._lock:
            yield self._shared

    def apply_schema(self, name: str) -> None:
        with self.using() as db:
            db.executescript(sqlite_schema(name))

    def add_missing_columns(self, table: str, columns: dict[str, str]) -> None:
        """Upgrade a file written before `columns` ({name: type}) existed; new files get them here too."""
        with self.using() as db:
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in have:
                    try:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
                    except sqlite3.OperationalError:  # another process added it meanwhile
                        pass

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        with self.using() as db:
            cursor = db.execute(sql.replace("%s", "?"), args)
            if cursor.description is None:
                return []
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def change(self, sql: str, args: Sequence[Any] = ()) -> int:
        try:
            with self.using() as db:
                return db.execute(sql.replace("%s", "?"), args).rowcount
        except sqlite3.IntegrityError as exc:
            if exc.sqlite_errorcode in _DUPLICATE:
                raise DuplicateRow(str(exc)) from exc
            raise

    @contextmanager
    def transaction(self) -> Iterator[SqliteFile]:
        """BEGIN IMMEDIATE: one writer at a time across processes; all of it or, on any error, none of it."""
        with self.using() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        """Close the shared connection, or this thread's."""
        db = self._shared if self._shared is not None else getattr(self._local, "db", None)
        if db is not None:
            db.close()
