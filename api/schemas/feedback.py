"""Feedback on an answer: POST /v1/answers/{answer_id}/feedback."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.grammar import RequestBody


class FeedbackRequest(RequestBody):
    model_config = ConfigDict(extra="forbid", strict=True)

    rating: Literal["up", "down"] = Field(examples=["down"])
    comment: Annotated[str, StringConstraints(max_length=4000)] | None = Field(
        None, examples=["The leave policy changed in 2024."]
    )
    source: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        None,
        examples=["leave-policy-2024.pdf#page=3"],
        description="The source the answer should have cited: a document id, optionally '#page=N'",
    )


class FeedbackOut(BaseModel):
    answer_id: str
    collection: str
    rating: Literal["up", "down"]
    comment: str | None
    source: str | None
    created_at: str = Field(description="When the first feedback on this answer came (UTC, ISO 8601)")
    updated_at: str = Field(description="When this feedback came: a later one replaces an earlier one")
