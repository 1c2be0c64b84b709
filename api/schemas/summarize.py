"""/v1/summarize: raw text, a stored document or a topic of a collection."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.answers import SamplingFields
from api.schemas.common import UsageModel
from api.schemas.grammar import JsonInt, NotBlank


def _one_source(given: str, *others: str, needs: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON-schema branch: `given` (and `needs`, not empty) set, the other sources absent or null."""
    properties = {given: {"type": "string"}, **{n: {"type": "string", "minLength": 1} for n in needs}}
    return {"required": [given, *needs], "properties": {**properties, **{o: {"type": "null"} for o in others}}}


class SummarizeRequest(SamplingFields):
    """Exactly one source: `text`, `document_id` with `collection`, or `topic` with `collection` (else 400)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                _one_source("text", "document_id", "topic"),
                _one_source("document_id", "text", "topic", needs=("collection",)),
                _one_source("topic", "text", "document_id", needs=("collection",)),
            ]
        },
    )

    text: NotBlank | None = Field(None, description="Raw text to summarize")
    document_id: str | None = Field(None, description="A stored document (with `collection`)")
    collection: str | None = None
    topic: NotBlank | None = Field(None, description="What the collection says about this (with `collection`)")
    instruction: str | None = Field(None, max_length=2000, examples=["3 bullet points focusing on the solutions"])
    top_k: JsonInt = Field(8, ge=1, le=50, description="Chunks retrieved for a topic summary")
    stream: bool = False


class CoveredSourceOut(BaseModel):
    n: int | None = Field(None, description="For topic summaries: the number cited as [n]")
    document_id: str
    filename: str
    pages: list[int]
    chunk_ids: list[str]


class SummarizeResponse(BaseModel):
    summary: str
    sources: list[CoveredSourceOut]
    usage: UsageModel
    model: str
    finish_reason: str
    model_calls: int
