"""What every route shares: the error contract's models and statuses, token usage, health."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: int | str = Field(examples=[404], description="The HTTP status, or OpenAI's code where it has one")
    message: str = Field(examples=["collection 'hr' not found"])
    traceId: str = Field(examples=["4bf92f3577b34da6a3ce929d0e0e4736"])
    type: str = Field(examples=["not_found_error"], description="OpenAI's error type")
    param: str | None = Field(None, description="The request field at fault, when known")


class ErrorResponse(BaseModel):
    error: ErrorBody


# 401 is api.openapi.declare_auth's: only a server with keys answers it.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 404, 413, 422, 500, 502, 504)
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}}
# The routes that call the chat model: its queue can be full (429), the backend can ask for a pause (503).
QUEUE_RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorResponse, "description": "The chat model's queue is full", "headers": _RETRY_AFTER},
    503: {"model": ErrorResponse, "description": "The chat backend asked to come back later", "headers": _RETRY_AFTER},
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """ERROR_RESPONSES plus the statuses only some routes answer (409, 413, 415, ...)."""
    return {**ERROR_RESPONSES, **{code: {"model": ErrorResponse} for code in codes}}


class UsageModel(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class HealthResponse(BaseModel):
    status: str = Field(examples=["ok"])
    store: bool
    embedder: bool
    backend: bool
    backend_name: str
    model: str
    generation: dict[str, int] = Field(
        default_factory=dict, description="The chat model's queue: running, waiting, tickets, concurrency, depth"
    )
