"""The database engine, chosen once: PostgreSQL when RAG_DATABASE_URL is set, else SQLite files in the data dir.

`open_store` is where every store's factory makes that choice. The rest is the PostgreSQL side: one
connection pool per process (`Database`) and the schema's migrations. Every store kept in PostgreSQL takes
its connections from `Database.pool`. The schema is versioned SQL files in rag/storage/migrations
(`0001_name.sql`, applied in order, each in its own transaction and recorded in `schema_migrations`); each
process applies what is missing when it opens the database, under an advisory lock, so servers starting
together migrate once. A new store = one new migration file and one class. (SQLite's schemas:
rag/storage/sqlite_schema, applied by rag/storage/sqlite_file.py.)

Advisory locks taken with two keys: the first names what the lock is for (see the constants below), so
no two users of these locks collide.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar

from rag.storage.sql import DuplicateRow, Row

if TYPE_CHECKING:  # psycopg is imported when a database is opened: a SQLite-only process never loads it
    import psycopg

    from rag.config import Settings

Store = TypeVar("Store")

log = logging.getLogger(__name__)

LOCK_MIGRATIONS = 1  # advisory lock (LOCK_MIGRATIONS, 0): one process migrates at a time
LOCK_KEYWORD_CHANGES = 2  # (LOCK_KEYWORD_CHANGES, 0): keyword writers number their changes in commit order
LOCK_WRITER_LEASE = 3  # (LOCK_WRITER_LEASE, lease number): held by a live ingest writer (registry/postgres.py)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
POOL_SIZE = 10  # a server's request threads, its ingestion threads and the BM25 warm-up share these


def open_store(
    settings: Settings, *, sqlite: Callable[[Settings], Store], postgres: Callable[[Database], Store]
) -> Store:
    """The store of the configured engine: `postgres` with the process's migrated `Database` when
    RAG_DATABASE_URL is set, else `sqlite` (its files in RAG_DATA_DIR). Every store's factory asks here."""
    if settings.database_url:
        return postgres(open_database(settings.database_url))
    return sqlite(settings)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The packaged migrations, in order."""
    found = []
    for entry in resources.files("rag.storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if len({m.version for m in found}) != len(found):
        raise RuntimeError("two migrations share a version number")
    return found


class Database:
    """A pool of autocommit connections to one PostgreSQL database; transactions are explicit.
    Runs the stores' shared queries too (`rows`, `change`, `transaction`: rag/storage/sql.py)."""

    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        from psycopg_pool import ConnectionPool

        self.url = url
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, **_keepalives()},
            check=ConnectionPool.check_connection,  # a connection broken by a server restart is replaced
            name="rag",
            open=True,
        )

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        with self.pool.connection() as conn:
            yield conn

    def connect(self) -> psycopg.Connection:
        """A connection of its own, outside the pool (for a session that holds a lock for the process's life)."""
        import psycopg

        return psycopg.connect(self.url, autocommit=True, **_keepalives())

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        with self.connection() as conn:
            return _Session(conn).rows(sql, args)

    def change(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self.connection() as conn:
            return _Session(conn).change(sql, args)

    @contextmanager
    def transaction(self) -> Iterator[_Session]:
        with self.connection() as conn, conn.transaction():
            yield _Session(conn)

    def migrate(self) -> list[str]:
        """Apply the migrations this database lacks; returns their names. Safe to run from many processes at once."""
        applied: list[str] = []
        with self.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s, 0)", (LOCK_MIGRATIONS,))
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
                for migration in migrations():
                    if migration.version in done:
                        continue
                    with conn.transaction():
                        conn.execute(migration.sql.encode())  # no parameters: several statements in one go
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                            (migration.version, migration.name),
                        )
                    applied.append(migration.name)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s, 0)", (LOCK_MIGRATIONS,))
        if applied:
            log.info("database migrated: %s", ", ".join(applied))
        return applied

    def close(self) -> None:
        self.pool.close()


class _Session:
    """The shared queries on one connection (inside a transaction: `Database.transaction`)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        from psycopg.rows import dict_row

        with self.conn.cursor(row_factory=dict_row) as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall() if cursor.description else []

    def change(self, sql: str, args: Sequence[Any] = ()) -> int:
        import psycopg

        try:
            return self.conn.execute(sql, args).rowcount
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateRow(str(exc)) from exc

    @contextmanager
    def transaction(self) -> Iterator[_Session]:
        with self.conn.transaction():
            yield self


def _keepalives() -> dict[str, int]:
    # A writer's lease lives as long as its session: a machine that vanishes must not hold one for hours.
    return {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


_databases: dict[str, Database] = {}
_guard = threading.Lock()


def open_database(url: str) -> Database:
    """The process's one `Database` for `url`, migrated on first use."""
    with _guard:
        database = _databases.get(url)
        if database is None:
            database = Database(url)
            database.migrate()
            _databases[url] = database
        return database


def close_database(url: str) -> None:
    """Close the process's `Database` for `url`, if open (tests that drop their databases)."""
    with _guard:
        database = _databases.pop(url, None)
    if database is not None:
        database.close()
