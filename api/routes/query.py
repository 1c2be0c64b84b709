"""POST /v1/query: a cited answer from the collection, whole or as Server-Sent Events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from sse_starlette.sse import EventSourceResponse

from api.deps import ServicesDep
from api.errors import error_payload
from api.schemas import ERROR_RESPONSES, QueryRequest, QueryResponse, Source
from rag.answer import RetrievalOptions
from rag.backends.base import Delta
from rag.errors import RagError
from rag.models import SearchHit

router = APIRouter(tags=["query"])

STREAM_DOC = """With `stream: true` the answer comes as Server-Sent Events, each a `data:` line of JSON:
`{"type": "sources", "id", "sources", "abstained", "model"}` first, then `{"type": "delta", "text"}`
pieces, then `{"type": "done", "usage", "finish_reason"}`, then `data: [DONE]`. A backend failure after
the stream has started arrives as `{"type": "error", "error": {"code", "message", "traceId"}}`."""


def sources_out(hits: list[SearchHit]) -> list[Source]:
    return [
        Source(
            n=n,
            chunk_id=h.chunk_id,
            document_id=h.document_id,
            filename=h.filename,
            page=h.page,
            text=h.text,
            score=h.score,
        )  # fmt: skip
        for n, h in enumerate(hits, start=1)
    ]


def sse(data: dict[str, Any] | str) -> dict[str, str]:
    return {"data": data if isinstance(data, str) else json.dumps(data)}


@router.post(
    "/v1/query",
    response_model=QueryResponse,
    responses={**ERROR_RESPONSES, 200: {"content": {"text/event-stream": {}}}},
    description=STREAM_DOC,
)
async def query(body: QueryRequest, services: ServicesDep) -> Any:
    services.require_collection(body.collection)
    params = body.sampling(services.settings.max_tokens)
    options = RetrievalOptions(body.retrieval.top_k, body.retrieval.filters, body.retrieval.rerank)
    if not body.stream:
        answer = await services.answers.answer(body.question, body.collection, options, params)
        return QueryResponse(
            id=answer.id, answer=answer.answer, sources=sources_out(answer.sources), abstained=answer.abstained,
            usage=answer.usage.as_dict(), model=answer.model, finish_reason=answer.finish_reason,
        )  # fmt: skip

    prepared = await services.answers.prepare(body.question, body.collection, options, params.max_tokens)
    deltas = services.answers.stream(prepared, params)
    # Wait for the first piece before answering 200, so a backend that fails up front gets a 502/504.
    first = await anext(deltas)
    head = {
        "type": "sources", "id": prepared.id, "sources": [s.model_dump() for s in sources_out(prepared.sources)],
        "abstained": prepared.abstained, "model": services.backend.model,
    }  # fmt: skip

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            yield sse(head)
            delta: Delta | None = first
            while delta is not None:
                if delta.text:
                    yield sse({"type": "delta", "text": delta.text})
                if delta.finish_reason:
                    usage = delta.usage.as_dict() if delta.usage else None
                    yield sse({"type": "done", "usage": usage, "finish_reason": delta.finish_reason})
                delta = await anext(deltas, None)
        except RagError as exc:
            yield sse({"type": "error", **error_payload(exc.status_code, exc.message)})
        finally:
            await deltas.aclose()  # a client that went away stops the generation
        yield sse("[DONE]")

    return EventSourceResponse(events(), ping=15)
