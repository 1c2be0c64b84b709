"""POST /v1/query: a cited answer from the collection, whole or as Server-Sent Events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.answers_out import query_response, sources_out
from api.deps import Services, ServicesDep
from api.disconnect import until_disconnected
from api.generation import admitted, holding, kept_if, released_on_error, take_ticket
from api.keeping import keep_answer, kept
from api.schemas.answers import QueryRequest, QueryResponse
from api.schemas.common import ERROR_RESPONSES, QUEUE_RESPONSES
from api.streaming import answer_error, answer_events, open_stream, sse
from rag.answering.service import Answer, RetrievalOptions
from rag.backends.admission import Ticket
from rag.backends.base import SamplingParams

router = APIRouter(tags=["query"])

STREAM_DOC = """With `stream: true` the answer comes as Server-Sent Events, each a `data:` line of JSON:
`{"type": "sources", "id", "sources", "abstained", "model"}` first, then `{"type": "delta", "text"}`
pieces, then `{"type": "citations", "answer", "abstained", "citations", "unsupported", "grounded",
"abstain_reason", "related", "mode"}`, then `{"type": "done", "usage", "finish_reason"}`, then
`data: [DONE]`. The `citations` event carries the final answer: its `[n]` markers repaired by the
checker (citation ranges refer to this text), or, when the streamed text turned out unsupported, the
abstention or the extracted answer that replaces it. A backend failure after the stream has started
arrives as `{"type": "error", "error": {"code", "message", "traceId"}}`.

When the chat model already has `RAG_GENERATION_QUEUE` requests waiting, the answer is an immediate 429
with `Retry-After`. A client that disconnects, before or during the answer, stops its generation."""


@router.post(
    "/v1/query",
    response_model=QueryResponse,
    responses={**ERROR_RESPONSES, **QUEUE_RESPONSES, 200: {"content": {"text/event-stream": {}}}},
    description=STREAM_DOC,
)
async def query(body: QueryRequest, request: Request, services: ServicesDep) -> Any:
    services.require_collection(body.collection)
    params = body.sampling(services.settings.max_tokens)
    options = RetrievalOptions(body.retrieval.top_k, body.retrieval.filters, body.retrieval.rerank)
    ticket = take_ticket(services, services.answers.may_generate)  # 429 now, before any work, when full
    if not body.stream:
        with holding(ticket):
            return query_response(await until_disconnected(request, _answer(services, ticket, body, options, params)))

    with released_on_error(ticket):
        prepared = await until_disconnected(
            request, services.answers.prepare(body.question, body.collection, options, params.max_tokens)
        )
    # The stream owns the place in line from here, when it needs the model at all.
    answers = kept(services, services.answers.stream(prepared, params), prepared.id, body.collection, body.question)
    items = admitted(kept_if(ticket, prepared.needs_model), answers)
    head = {
        "type": "sources", "id": prepared.id, "sources": [s.model_dump() for s in sources_out(prepared.sources)],
        "abstained": prepared.abstained, "model": services.backend.model,
    }  # fmt: skip
    return await open_stream(items, [sse(head)], answer_events, answer_error, request=request)


async def _answer(
    services: Services, ticket: Ticket | None, body: QueryRequest, options: RetrievalOptions, params: SamplingParams
) -> Answer:
    prepared = await services.answers.prepare(body.question, body.collection, options, params.max_tokens)
    if ticket is not None and prepared.needs_model:
        await ticket.wait()
    answer = await services.answers.finish(prepared, params)
    await keep_answer(services, answer.id, body.collection, prepared.question, answer)
    return answer
