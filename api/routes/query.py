"""POST /v1/query: a cited answer from the collection, whole or as Server-Sent Events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.answers_out import query_response, sources_out
from api.deps import ServicesDep
from api.schemas import ERROR_RESPONSES, QueryRequest, QueryResponse
from api.streaming import answer_error, answer_events, open_stream, sse
from rag.answer import RetrievalOptions

router = APIRouter(tags=["query"])

STREAM_DOC = """With `stream: true` the answer comes as Server-Sent Events, each a `data:` line of JSON:
`{"type": "sources", "id", "sources", "abstained", "model"}` first, then `{"type": "delta", "text"}`
pieces, then `{"type": "citations", "answer", "abstained", "citations", "unsupported", "grounded",
"abstain_reason", "related", "mode"}`, then `{"type": "done", "usage", "finish_reason"}`, then
`data: [DONE]`. The `citations` event carries the final answer: its `[n]` markers repaired by the
checker (citation ranges refer to this text), or, when the streamed text turned out unsupported, the
abstention or the extracted answer that replaces it. A backend failure after the stream has started
arrives as `{"type": "error", "error": {"code", "message", "traceId"}}`."""


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
        return query_response(await services.answers.answer(body.question, body.collection, options, params))

    prepared = await services.answers.prepare(body.question, body.collection, options, params.max_tokens)
    head = {
        "type": "sources", "id": prepared.id, "sources": [s.model_dump() for s in sources_out(prepared.sources)],
        "abstained": prepared.abstained, "model": services.backend.model,
    }  # fmt: skip
    return await open_stream(services.answers.stream(prepared, params), [sse(head)], answer_events, answer_error)
