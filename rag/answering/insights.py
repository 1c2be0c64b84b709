"""How a collection is doing, read off the answer log: what was asked, how much was answered, what users
voted down, the unanswered questions grouped by topic (the documents to write) and the documents no
answer cited (the ones nobody needs, or that retrieval never finds).

Under a key's document scope (rag.access.current_scope) the report is made of the answers given under that same
filter (rag.answering.feedback.seen_under), as if the other documents had never been there; a source a user
named is shown only when it names a document the key sees."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from rag.access import DocumentScope, current_scope
from rag.answering.feedback import seen_under
from rag.answering.topics import Topic, group_by_topic
from rag.retrieval.embeddings import Embedder
from rag.storage.answers import AnswerLog, AnswerRecord, RatedAnswer
from rag.storage.registry.types import Registry

MAX_DOWN_VOTED = 50
MAX_CLUSTERED = 5000  # the most recent unanswered questions grouped; older ones are counted only


@dataclass
class Insights:
    collection: str
    since: str
    questions: int
    answered: int
    abstained: int
    abstained_by_reason: dict[str, int]
    ratings: dict[str, int]  # up, down
    down_voted: list[dict[str, Any]]  # newest first: answer_id, question, answer, comment, source, at
    unanswered_topics: list[Topic]
    never_cited: list[dict[str, Any]] | None  # document_id, filename; None when questions are not kept
    questions_kept: bool
    notes: list[str] = field(default_factory=list)

    @property
    def answered_share(self) -> float:
        return round(self.answered / self.questions, 4) if self.questions else 0.0

    def as_dict(self) -> dict[str, Any]:
        topics = [{"count": t.count, "examples": t.examples} for t in self.unanswered_topics]
        return {**{k: v for k, v in self.__dict__.items() if k != "unanswered_topics"},
                "answered_share": self.answered_share, "unanswered_topics": topics}  # fmt: skip


def collection_insights(
    answer_log: AnswerLog, registry: Registry, embedder: Embedder, collection: str, since: str
) -> Insights:
    answers = answer_log.answers(collection, since)
    rated = answer_log.rated(collection, since)
    if (scope := current_scope()) is not None:
        answers, rated = _in_scope(answers, rated, registry, collection, scope)
    abstentions = [a for a in answers if a.abstained]
    reasons = Counter(a.abstain_reason or "unknown" for a in abstentions)
    ratings = Counter(r.feedback.rating for r in rated)
    down = [r for r in reversed(rated) if r.feedback.rating == "down"][:MAX_DOWN_VOTED]
    down_voted = [
        {"answer_id": r.feedback.answer_id, "question": r.answer.question if r.answer else None,
         "answer": r.answer.answer if r.answer else None, "comment": r.feedback.comment,
         "source": r.feedback.source, "at": r.feedback.updated_at}
        for r in down
    ]  # fmt: skip
    unanswered = [a.question for a in abstentions if a.question][-MAX_CLUSTERED:]
    topics = group_by_topic(unanswered, embedder.embed_documents(unanswered)) if unanswered else []
    kept = any(a.question is not None for a in answers) or not answers
    notes = []
    never_cited: list[dict[str, Any]] | None = None
    if answers and not kept:
        notes.append("questions are not kept (RAG_KEEP_QUESTIONS=false): no topics nor citations to show")
    else:
        cited = {s["document_id"] for a in answers if not a.abstained for s in a.cited}
        never_cited = [
            {"document_id": d.document_id, "filename": d.filename}
            for d in registry.documents(collection)
            if d.document_id not in cited
        ]
    return Insights(
        collection, since, len(answers), len(answers) - len(abstentions), len(abstentions), dict(reasons),
        {"up": ratings.get("up", 0), "down": ratings.get("down", 0)}, down_voted, topics, never_cited, kept, notes,
    )  # fmt: skip


def _in_scope(
    answers: list[AnswerRecord], rated: list[RatedAnswer], registry: Registry, collection: str, scope: DocumentScope
) -> tuple[list[AnswerRecord], list[RatedAnswer]]:
    """The answers and feedback a scoped key may see (the registry lists the documents it sees)."""
    documents = registry.documents(collection)
    visible = {d.document_id for d in documents}
    names = visible | {d.filename for d in documents}

    kept = []
    for r in rated:
        if seen_under(r.answer, scope, visible):
            named = r.feedback.source or ""
            if named and not any(named == n or named.startswith((f"{n}#", f"{n} ")) for n in names):
                r = RatedAnswer(replace(r.feedback, source=None), r.answer)
            kept.append(r)
    return [a for a in answers if seen_under(a, scope, visible)], kept
