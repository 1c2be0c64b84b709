"""The answer log in `answers.sqlite` in the data dir (the default engine); see rag/storage/answers/types.py."""

from __future__ import annotations

from pathlib import Path

from rag.storage.answers.queries import SqlAnswerLog
from rag.storage.sqlite_file import SqliteFile


class SqliteAnswerLog(SqlAnswerLog):
    """A file of its own, so logging an answer never waits for an ingestion holding the registry's write lock.
    WAL with synchronous=NORMAL: an insert costs well under a millisecond, and losing the last answers of a
    power cut is acceptable for a log."""

    def __init__(self, path: Path) -> None:
        self.sql = SqliteFile(path, timeout=10, pragmas=("journal_mode=WAL", "synchronous=NORMAL"), shared=True)
        self.sql.apply_schema("answers")
        # Added after the first release (PostgreSQL: migrations/0008_document_access.sql).
        self.sql.add_missing_columns("answers", {"scope": "TEXT"})

    def close(self) -> None:
        self.sql.close()
