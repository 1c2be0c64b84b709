"""How a collection is doing: GET /v1/collections/{name}/insights."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TopicOut(BaseModel):
    count: int = Field(description="Unanswered questions on this topic")
    examples: list[str] = Field(description="Up to 5 of them, the most typical first")


class DownVotedOut(BaseModel):
    answer_id: str
    question: str | None = Field(description="None when questions are not kept (RAG_KEEP_QUESTIONS=false)")
    answer: str | None
    comment: str | None
    source: str | None = Field(description="The source the user said should have been cited")
    at: str


class UncitedOut(BaseModel):
    document_id: str
    filename: str


class InsightsOut(BaseModel):
    collection: str
    since: str = Field(description="The period's start (UTC, ISO 8601); it runs until now")
    questions: int = Field(description="Questions answered or abstained on in the period")
    answered: int
    abstained: int
    answered_share: float = Field(description="answered / questions, 0-1")
    abstained_by_reason: dict[str, int] = Field(
        examples=[{"no_relevant_sources": 3, "no_answer_in_sources": 1}],
        description="no_relevant_sources | no_answer_in_sources | unsupported_answer",
    )
    ratings: dict[str, int] = Field(examples=[{"up": 12, "down": 2}])
    down_voted: list[DownVotedOut] = Field(description="The latest 50, newest first")
    unanswered_topics: list[TopicOut] = Field(
        description="The questions the collection could not answer, grouped by topic, the most asked first"
    )
    never_cited: list[UncitedOut] | None = Field(
        description="The collection's documents no answer of the period cited; None when questions are not kept"
    )
    questions_kept: bool
    notes: list[str]
