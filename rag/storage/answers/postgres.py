"""The answer log in the shared database (RAG_DATABASE_URL): feedback given through one replica finds an
answer given by another; see rag/storage/answers/types.py."""

from __future__ import annotations

from rag.storage.answers.queries import SqlAnswerLog
from rag.storage.engine import Database


class PostgresAnswerLog(SqlAnswerLog):
    def __init__(self, database: Database) -> None:
        self.database = self.sql = database

    def close(self) -> None:
        """The database's pool belongs to the process (rag.storage.engine), not to this store."""
