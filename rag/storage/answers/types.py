"""The answer log: every answer the service gave (`AnswerRecord`), the feedback users gave on them
(`FeedbackRecord`), and the `AnswerLog` protocol every engine implements.

An answer's row is what lets feedback find its collection (a scoped key may only rate answers of the
collections it sees) and what insights count. With RAG_KEEP_QUESTIONS=false the row keeps no text: no
question, answer nor sources, only the collection, the time and whether it abstained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

Rating = Literal["up", "down"]


@dataclass
class AnswerRecord:
    id: str
    collection: str
    question: str | None
    answer: str | None
    sources: list[dict[str, Any]] | None  # {n, document_id, filename, page, chunk_id, cited}; None when not kept
    abstained: bool
    abstain_reason: str | None
    mode: str
    created_at: str = ""
    scope: str | None = None  # the document filter it was given under (rag.access.DocumentScope), None for none

    @property
    def cited(self) -> list[dict[str, Any]]:
        """The sources the answer's sentences cite (all of them when none was marked)."""
        sources = self.sources or []
        return [s for s in sources if s.get("cited")] or sources


@dataclass
class FeedbackRecord:
    answer_id: str
    collection: str
    rating: Rating
    comment: str | None = None
    source: str | None = None  # the source the answer should have cited, as the user named it
    created_at: str = ""
    updated_at: str = ""


@dataclass
class RatedAnswer:
    """An answer with the feedback given on it (what insights and `rag eval --from-feedback` read)."""

    feedback: FeedbackRecord
    answer: AnswerRecord | None  # None once purged


class AnswerLog(Protocol):
    def record(self, answer: AnswerRecord) -> None:
        """Keep an answer (its `created_at` is stamped here)."""
        ...

    def get(self, answer_id: str) -> AnswerRecord | None: ...
    def give_feedback(self, feedback: FeedbackRecord) -> bool:
        """Store the feedback on an answer, replacing any earlier one; True when it is the first."""
        ...

    def feedback(self, answer_id: str) -> FeedbackRecord | None: ...
    def answers(self, collection: str, since: str) -> list[AnswerRecord]:
        """The collection's answers kept since `since` (an ISO time), oldest first."""
        ...

    def rated(self, collection: str, since: str) -> list[RatedAnswer]:
        """The feedback given since `since` on the collection's answers, with each answer when still kept."""
        ...

    def forget_collection(self, collection: str) -> int:
        """Forget a deleted collection's answers and feedback, so a new collection of its name starts with none;
        the number of rows removed."""
        ...

    def purge(self, before: str) -> int:
        """Forget the answers and feedback older than `before` (an ISO time); the number of rows removed."""
        ...

    def close(self) -> None: ...
