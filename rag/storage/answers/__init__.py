"""The answer log and its feedback. types.py holds the records and the `AnswerLog` protocol, queries.py the
SQL both engines share, sqlite.py and postgres.py the engines; `open_answer_log` picks one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.storage.answers.types import AnswerLog, AnswerRecord, FeedbackRecord, RatedAnswer, Rating
from rag.storage.engine import open_store

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.storage.engine import Database

__all__ = ["AnswerLog", "AnswerRecord", "FeedbackRecord", "RatedAnswer", "Rating", "open_answer_log"]


def open_answer_log(settings: Settings) -> AnswerLog:
    """The answer log of the configured engine (rag.storage.engine.open_store); with SQLite, answers.sqlite
    in RAG_DATA_DIR."""
    return open_store(settings, sqlite=_sqlite, postgres=_postgres)


def _sqlite(settings: Settings) -> AnswerLog:
    from rag.storage.answers.sqlite import SqliteAnswerLog

    return SqliteAnswerLog(settings.answers_db)


def _postgres(database: Database) -> AnswerLog:
    from rag.storage.answers.postgres import PostgresAnswerLog

    return PostgresAnswerLog(database)
