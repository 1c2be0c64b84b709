"""OpenAI-compatible chat: POST /v1/chat/completions (grounded by default) and GET /v1/models."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sse_starlette.sse import EventSourceResponse

from api.answers_out import final_answer, sources_out, verification_out
from api.deps import Services, ServicesDep
from api.disconnect import unless_disconnected
from api.generation import admitted, holding, kept_if, released_on_error, take_ticket
from api.schemas import (
    ERROR_RESPONSES,
    QUEUE_RESPONSES,
    ChatChoice,
    ChatChoiceMessage,
    ChatCompletion,
    ChatRequest,
    ModelCard,
    ModelList,
    UsageModel,
)  # fmt: skip
from api.streaming import open_stream, sse
from rag.admission import Ticket
from rag.answer import Finished, RetrievalOptions
from rag.backends.base import Delta, Message, SamplingParams, Usage
from rag.chat import PreparedChat
from rag.errors import InvalidInput

router = APIRouter(tags=["openai-compatible"])
ROLES = {"system", "user", "assistant"}


def parse_request(raw: Any) -> ChatRequest:
    """Validate like OpenAI does: a bad request is a 400, so OpenAI clients raise BadRequestError."""
    try:
        body = ChatRequest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInput(f"invalid request: {where}: {first.get('msg')}") from exc
    for i, m in enumerate(body.messages):
        if m.role not in ROLES:
            raise InvalidInput(f"messages[{i}].role: unknown role {m.role!r} (use system, user or assistant)")
        if isinstance(m.content, list) and any(p.type != "text" for p in m.content):
            raise InvalidInput(f"messages[{i}].content: only text parts are supported")
    if body.messages[-1].role != "user":
        raise InvalidInput("the last message must come from the user")
    if body.stream and body.n > 1:
        raise InvalidInput("n > 1 is not supported with stream")
    return body


def to_messages(body: ChatRequest) -> list[Message]:
    def text(content: Any) -> str:
        return "".join(p.text or "" for p in content) if isinstance(content, list) else (content or "")

    return [Message(m.role, text(m.content)) for m in body.messages]  # type: ignore[arg-type]


async def _prepare(body: ChatRequest, services: Services) -> tuple[PreparedChat, SamplingParams]:
    max_tokens = body.max_completion_tokens or body.max_tokens or services.settings.max_tokens
    params = body.model_copy(update={"max_tokens": max_tokens}).sampling(max_tokens, body.response_format)
    collection = None
    if body.use_context:
        collection = services.require_collection(body.collection or services.settings.default_collection)
    options = RetrievalOptions(body.retrieval.top_k, body.retrieval.filters, body.retrieval.rerank)
    prepared = await services.chat.prepare(to_messages(body), collection, options, max_tokens, body.use_context)
    return prepared, params


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={**ERROR_RESPONSES, **QUEUE_RESPONSES, 200: {"content": {"text/event-stream": {}}}},
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": ChatRequest.model_json_schema()}}}},
)
async def chat_completions(request: Request, services: ServicesDep) -> Any:
    try:
        raw = await request.json()
    except ValueError as exc:
        raise InvalidInput("the body must be a JSON object") from exc
    body = parse_request(raw)
    # A place in the model's queue first, so a full queue answers 429 before any work is done.
    ticket = take_ticket(services, services.answers.may_generate or not body.use_context)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    if body.stream:
        with released_on_error(ticket):
            prepared, params = await unless_disconnected(request, _prepare(body, services))
        sources = sources_out(prepared.answer.sources if prepared.answer else [])
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        ticket = kept_if(ticket, _needs_model(prepared))  # the stream owns it from here
        return await _stream(services, request, ticket, prepared, params, completion_id, created, sources,
                             include_usage)  # fmt: skip
    with holding(ticket):
        return await unless_disconnected(request, _complete(services, ticket, body, completion_id, created))


def _needs_model(prepared: PreparedChat) -> bool:
    grounded = prepared.grounded()
    return grounded is None or grounded.needs_model


async def _complete(
    services: Services, ticket: Ticket | None, body: ChatRequest, completion_id: str, created: int
) -> ChatCompletion:
    prepared, params = await _prepare(body, services)
    sources = sources_out(prepared.answer.sources if prepared.answer else [])
    if ticket is not None and _needs_model(prepared):
        await ticket.wait()
    choices, usage, model, verification = [], Usage(), services.backend.model, None
    grounded = prepared.grounded()
    for index in range(body.n):
        if grounded is not None:
            answer = await services.answers.finish(grounded, params)
            text, finish, model = answer.answer, _openai_finish(answer.finish_reason), answer.model
            verification = verification or verification_out(answer)
            result_usage = answer.usage
        else:
            result = await services.backend.complete(prepared.messages, params)
            text, finish, model, result_usage = result.text, result.finish_reason, result.model, result.usage
        usage = Usage(result_usage.prompt_tokens, usage.completion_tokens + result_usage.completion_tokens)
        choices.append(ChatChoice(index=index, message=ChatChoiceMessage(content=text), finish_reason=finish))
    return ChatCompletion(
        id=completion_id, created=created, model=model, choices=choices, sources=sources,
        usage=UsageModel(**usage.as_dict()), verification=verification,
    )  # fmt: skip


def _openai_finish(reason: str) -> str:
    """OpenAI clients know stop, length, content_filter and tool_calls: an abstention is a normal stop."""
    return "stop" if reason == "abstained" else reason


async def _stream(
    services: Services, request: Request, ticket: Ticket | None, prepared: PreparedChat, params: SamplingParams,
    completion_id: str, created: int, sources: list[Any], include_usage: bool,
) -> EventSourceResponse:  # fmt: skip
    model = services.backend.model

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, str]:
        return sse({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": choices, **extra})  # fmt: skip

    def finished(finish_reason: str, usage: Usage | None, **extra: Any) -> list[dict[str, str]]:
        events = [chunk([{"index": 0, "delta": {}, "finish_reason": _openai_finish(finish_reason)}], **extra)]
        if include_usage:
            events.append(chunk([], usage=(usage or Usage()).as_dict()))
        return events

    def on_item(item: Delta | Finished) -> list[dict[str, str]]:
        if isinstance(item, Finished):  # the final chunk carries the verified answer's citations
            answer = item.answer
            return finished(answer.finish_reason, answer.usage, verification=final_answer(answer))
        events = [chunk([{"index": 0, "delta": {"content": item.text}, "finish_reason": None}])] if item.text else []
        if item.finish_reason:  # a plain chat, straight from the backend
            events += finished(item.finish_reason, item.usage)
        return events

    grounded = prepared.grounded()
    if grounded is not None:
        items = admitted(ticket, services.answers.stream(grounded, params))
    else:
        items = admitted(ticket, services.backend.stream(prepared.messages, params))
    head = chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
                 sources=[s.model_dump() for s in sources])  # fmt: skip
    return await open_stream(items, [head], on_item, request=request)


@router.get("/v1/models", response_model=ModelList, responses=ERROR_RESPONSES)
async def list_models(services: ServicesDep) -> ModelList:
    return ModelList(data=[ModelCard(id=services.backend.model, created=int(time.time()))])
