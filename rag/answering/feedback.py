"""Keeping answers and taking feedback on them: what RAG_KEEP_QUESTIONS and RAG_QUESTION_RETENTION_DAYS mean.

Every answer given on a collection is logged under the id its client saw, so a thumbs up or down can name
it; feedback is scoped like everything else (a key rates only answers of the collections it sees, and
an answer it may not see is answered like one that does not exist). Old rows are purged on the way,
at most once an hour, so no scheduler is needed.

The answer routes only hand the record to one writer thread: a database write (an SQLite checkpoint, a
PostgreSQL round trip) never lengthens an answer. Feedback and insights first wait for what is queued, so
an answer rated the moment it arrived is found.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from rag.access import DocumentScope, current_scope
from rag.answering.service import Answer
from rag.errors import NotFound
from rag.storage.answers import AnswerLog, AnswerRecord, FeedbackRecord, Rating

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0
MAX_QUEUED = 10_000  # answers waiting for the writer; beyond, new ones are not kept (and say so in the log)


def answer_record(answer_id: str, collection: str, question: str, answer: Answer, keep: bool) -> AnswerRecord:
    """What the log keeps of an answer: with `keep` off, no text of the user's nor of the answer."""
    scope = str(found) if (found := current_scope()) else None  # the asking key's document filter
    if not keep:
        return AnswerRecord(answer_id, collection, None, None, None, answer.abstained, answer.abstain_reason,
                            answer.mode, scope=scope)  # fmt: skip
    cited = {c.n for c in answer.grounding.citations} if answer.grounding and not answer.abstained else set()
    sources = [
        {"n": n, "document_id": hit.document_id, "filename": hit.filename, "page": hit.page,
         "chunk_id": hit.chunk_id, "cited": n in cited}
        for n, hit in enumerate(answer.sources, start=1)
    ]  # fmt: skip
    return AnswerRecord(answer_id, collection, question, answer.answer, sources, answer.abstained,
                        answer.abstain_reason, answer.mode, scope=scope)  # fmt: skip


def seen_under(answer: AnswerRecord | None, scope: DocumentScope, documents: set[str]) -> bool:
    """Whether a key with the document filter `scope` may see the answer: one given under the same filter, that
    drew only on `documents` (those the filter admits now: a document's metadata may have changed since)."""
    return (
        answer is not None
        and answer.scope == str(scope)
        and all(s.get("document_id") in documents for s in answer.sources or [])
    )


def iso_days_ago(days: float, now: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC) - timedelta(days=days)
    return moment.isoformat(timespec="seconds")


class AnswerKeeper:
    """The answer log as the routes use it: record answers, take feedback, purge what is too old."""

    def __init__(self, answer_log: AnswerLog, keep_questions: bool, retention_days: int) -> None:
        self.log = answer_log
        self.keep_questions = keep_questions
        self.retention_days = retention_days
        self._purged_at = 0.0
        self._guard = threading.Lock()
        self._queue: queue.Queue[AnswerRecord | None] = queue.Queue(MAX_QUEUED)
        self._writer: threading.Thread | None = None

    def record(self, answer_id: str, collection: str, question: str, answer: Answer) -> None:
        """Queue one answer for the log. A failing log never fails the answer the user is waiting for."""
        record = answer_record(answer_id, collection, question, answer, self.keep_questions)
        with self._guard:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write, daemon=True, name="answer-log")
                self._writer.start()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            log.warning("answer log behind by %d answers: %s not kept", MAX_QUEUED, answer_id)

    def _write(self) -> None:
        while (record := self._queue.get()) is not None:
            try:
                self.log.record(record)
                self.purge_if_due()
            except Exception:
                log.exception("could not keep answer %s", record.id)
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def flush(self) -> None:
        """Wait until every answer queued so far is in the log."""
        self._queue.join()

    def forget_collection(self, collection: str) -> int:
        """A deleted collection's answers and feedback, those still queued included."""
        self.flush()
        return self.log.forget_collection(collection)

    def close(self) -> None:
        """Write what is queued, stop the writer, close the log."""
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=30)
        self.log.close()

    def purge_if_due(self) -> int:
        with self._guard:
            if time.monotonic() - self._purged_at < PURGE_EVERY_S and self._purged_at:
                return 0
            self._purged_at = time.monotonic()
        return self.log.purge(iso_days_ago(self.retention_days))

    def give_feedback(
        self,
        answer_id: str,
        rating: Rating,
        comment: str | None,
        source: str | None,
        sees: Callable[[AnswerRecord], bool],
    ) -> tuple[FeedbackRecord, bool]:
        """Store the feedback on a logged answer the caller may see (`sees`: its collection, and under a
        document scope its sources); (the record, whether it is the first)."""
        answer = self.log.get(answer_id)
        if answer is None:  # perhaps still queued
            self.flush()
            answer = self.log.get(answer_id)
        expired = answer is not None and answer.created_at < iso_days_ago(self.retention_days)  # not purged yet
        if answer is None or expired or not sees(answer):
            raise NotFound(
                f"no answer {answer_id!r} (answers are kept {self.retention_days} days;"
                " use the id /v1/query or /v1/chat/completions returned)"
            )
        feedback = FeedbackRecord(answer_id, answer.collection, rating, comment or None, source or None)
        created = self.log.give_feedback(feedback)
        return feedback, created
