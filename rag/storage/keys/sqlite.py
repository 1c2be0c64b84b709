"""API keys in `keys.sqlite` in the data dir (the default engine); see rag/storage/keys/types.py."""

from __future__ import annotations

import os
from pathlib import Path

from rag.storage.keys.queries import SqlKeyStore
from rag.storage.sqlite_file import SqliteFile

# Added after the first release (PostgreSQL: migrations/0008_document_access.sql): files written before
# it gain the column when opened.
DOCUMENT_FILTER_COLUMN = {"documents": "TEXT"}


class SqliteKeyStore(SqlKeyStore):
    """A file of its own, readable by its owner only. WAL: the server's reads never wait for a CLI that
    creates or revokes a key."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))  # before SQLite creates it with the umask's mode
        self.sql = SqliteFile(path, timeout=10, pragmas=("journal_mode=WAL",), shared=True)
        self.sql.apply_schema("api_keys")
        self.sql.add_missing_columns("api_keys", DOCUMENT_FILTER_COLUMN)

    def close(self) -> None:
        self.sql.close()
