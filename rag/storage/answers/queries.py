"""The answer log's queries, the same on both engines; an engine's class (sqlite.py, postgres.py) supplies
where they run (`sql`)."""

from __future__ import annotations

import json

from rag.storage.answers.types import AnswerRecord, FeedbackRecord, RatedAnswer
from rag.storage.clock import now
from rag.storage.sql import DuplicateRow, Row, Sql

_FEEDBACK_COLUMNS = "answer_id, collection, rating, comment, source, created_at, updated_at"


class SqlAnswerLog:
    sql: Sql

    def record(self, answer: AnswerRecord) -> None:
        answer.created_at = answer.created_at or now()
        sources = None if answer.sources is None else json.dumps(answer.sources)
        self.sql.change(
            "INSERT INTO answers (id, collection, question, answer, sources, abstained, abstain_reason, mode,"
            " created_at, scope) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (answer.id, answer.collection, answer.question, answer.answer, sources, int(answer.abstained),
             answer.abstain_reason, answer.mode, answer.created_at, answer.scope),
        )  # fmt: skip

    def get(self, answer_id: str) -> AnswerRecord | None:
        rows = self.sql.rows("SELECT * FROM answers WHERE id = %s", (answer_id,))
        return _answer(rows[0]) if rows else None

    def give_feedback(self, feedback: FeedbackRecord) -> bool:
        feedback.updated_at = now()
        values = (feedback.rating, feedback.comment, feedback.source, feedback.updated_at, feedback.answer_id)
        update = "UPDATE feedback SET rating = %s, comment = %s, source = %s, updated_at = %s WHERE answer_id = %s"
        if self.sql.change(update, values):
            return False
        feedback.created_at = feedback.updated_at
        try:
            self.sql.change(
                f"INSERT INTO feedback ({_FEEDBACK_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (feedback.answer_id, feedback.collection, feedback.rating, feedback.comment, feedback.source,
                 feedback.created_at, feedback.updated_at),
            )  # fmt: skip
        except DuplicateRow:  # another request's feedback on the same answer landed first: this one replaces it
            self.sql.change(update, values)
            return False
        return True

    def feedback(self, answer_id: str) -> FeedbackRecord | None:
        rows = self.sql.rows(f"SELECT {_FEEDBACK_COLUMNS} FROM feedback WHERE answer_id = %s", (answer_id,))
        return FeedbackRecord(**rows[0]) if rows else None

    def answers(self, collection: str, since: str) -> list[AnswerRecord]:
        sql = "SELECT * FROM answers WHERE collection = %s AND created_at >= %s ORDER BY created_at, id"
        return [_answer(row) for row in self.sql.rows(sql, (collection, since))]

    def rated(self, collection: str, since: str) -> list[RatedAnswer]:
        rows = self.sql.rows(
            f"SELECT {_FEEDBACK_COLUMNS} FROM feedback WHERE collection = %s AND updated_at >= %s"
            " ORDER BY updated_at, answer_id",
            (collection, since),
        )
        rated = []
        for row in rows:
            rated.append(RatedAnswer(FeedbackRecord(**row), self.get(row["answer_id"])))
        return rated

    def forget_collection(self, collection: str) -> int:
        with self.sql.transaction() as tx:
            return tx.change("DELETE FROM answers WHERE collection = %s", (collection,)) + tx.change(
                "DELETE FROM feedback WHERE collection = %s", (collection,)
            )

    def purge(self, before: str) -> int:
        with self.sql.transaction() as tx:
            return tx.change("DELETE FROM answers WHERE created_at < %s", (before,)) + tx.change(
                "DELETE FROM feedback WHERE updated_at < %s", (before,)
            )


def _answer(row: Row) -> AnswerRecord:
    sources = None if row["sources"] is None else json.loads(row["sources"])
    return AnswerRecord(**{**row, "sources": sources, "abstained": bool(row["abstained"])})
