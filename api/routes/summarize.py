"""POST /v1/summarize: raw text, a stored document, or a topic of a collection; whole or streamed."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from typing import Any

from fastapi import APIRouter, Request

from api.deps import Services, ServicesDep
from api.disconnect import until_disconnected
from api.generation import admitted, holding, released_on_error, take_ticket
from api.schemas.common import ERROR_RESPONSES, QUEUE_RESPONSES, ErrorResponse
from api.schemas.summarize import CoveredSourceOut, SummarizeRequest, SummarizeResponse
from api.streaming import answer_error, delta_events, open_stream, sse
from rag.answering.summarize import covered
from rag.answering.summary_sources import SummarySource, summary_input
from rag.backends.admission import Ticket

router = APIRouter(tags=["summarize"])
STREAM_DOC = """With `stream: true`: the same SSE shape as /v1/query (`sources`, then `delta` pieces, then `done`
with usage, finish_reason and model_calls, then `[DONE]`). Inputs over `RAG_MAX_SUMMARIZE_CHARS` characters
answer 413; a client that disconnects stops every model call of the summary. A summary takes its place in the
chat model's queue like an answer: when `RAG_GENERATION_QUEUE` requests already wait, it is an immediate 429
with `Retry-After`."""


@router.post(
    "/v1/summarize",
    response_model=SummarizeResponse,
    responses={
        **ERROR_RESPONSES,
        **QUEUE_RESPONSES,
        200: {"content": {"text/event-stream": {}}},
        413: {"model": ErrorResponse},
    },
    description=STREAM_DOC,
)
async def summarize(body: SummarizeRequest, request: Request, services: ServicesDep) -> Any:
    # A place in the model's queue first, so a full queue answers 429 before any work is done.
    ticket = take_ticket(services, True)
    # Every model call, map steps included, stops when the client leaves (until_disconnected); once a
    # stream has started, api/streaming.py does the same.
    if not body.stream:
        with holding(ticket):
            return await until_disconnected(request, _summarize(body, services, ticket))
    with released_on_error(ticket):  # the stream owns the place from here, and gives it back at its end
        return await until_disconnected(request, _summarize(body, services, ticket))


async def _summarize(body: SummarizeRequest, services: Services, ticket: Ticket | None) -> Any:
    source = SummarySource(
        text=body.text, document_id=body.document_id, topic=body.topic, collection=body.collection, top_k=body.top_k
    )
    chosen = await summary_input(source, services.summary_library(), services.settings.max_summarize_chars)
    units, numbered = chosen.units, chosen.numbered
    params = body.sampling(services.settings.max_tokens)
    if ticket is not None:
        await ticket.wait()  # the map steps and the final call all use the model
    plan = await services.summarizer.plan(units, body.instruction, params, cite=numbered)
    sources = [CoveredSourceOut(**asdict(s)) for s in covered(units, numbered)]
    deltas = admitted(ticket, services.summarizer.stream(plan, params))
    calls = plan.model_calls + 1
    if body.stream:
        head = {"type": "sources", "sources": [s.model_dump() for s in sources], "model": services.backend.model}
        return await open_stream(deltas, [sse(head)], partial(delta_events, model_calls=calls), answer_error)
    parts, finish, usage = [], "stop", plan.usage
    async for delta in deltas:
        parts.append(delta.text)
        finish, usage = delta.finish_reason or finish, delta.usage or usage
    return SummarizeResponse(
        summary="".join(parts).strip(), sources=sources, usage=usage.as_dict(), model=services.backend.model,
        finish_reason=finish, model_calls=calls,
    )  # fmt: skip
