"""OpenAI-compatible chat: POST /v1/chat/completions (grounded by default) and GET /v1/models."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sse_starlette.sse import EventSourceResponse

from api.answers_out import final_answer, sources_out, verification_out
from api.citations import annotations_out, sources_block
from api.deps import Services, ServicesDep
from api.disconnect import until_disconnected
from api.generation import admitted, holding, kept_if, released_on_error, take_ticket
from api.json_body import read_json
from api.keeping import keep_answer, kept
from api.openapi import ref
from api.schemas.common import ERROR_RESPONSES, QUEUE_RESPONSES, UsageModel
from api.schemas.openai import ChatChoice, ChatChoiceMessage, ChatCompletion, ChatRequest, ModelCard, ModelList
from api.served_models import chat_model_names, require_model
from api.streaming import open_stream, sse
from rag.answering.chat import PreparedChat
from rag.answering.service import Answer, Finished, RetrievalOptions
from rag.backends.admission import Ticket
from rag.backends.base import Delta, Message, SamplingParams, Usage
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
    if body.use_context and (body.response_format or {}).get("type") in ("json_object", "json_schema"):
        # A grounded answer is checked prose with [n] markers that the checker may rewrite or withhold: never JSON.
        raise InvalidInput("response_format: JSON output needs use_context: false (grounded answers are cited text)")
    return body


def to_messages(body: ChatRequest) -> list[Message]:
    def text(content: Any) -> str:
        return "".join(p.text or "" for p in content) if isinstance(content, list) else (content or "")

    return [Message(m.role, text(m.content)) for m in body.messages]  # type: ignore[arg-type]


async def _prepare(
    body: ChatRequest, services: Services
) -> tuple[PreparedChat, SamplingParams, str | None]:  # fmt: skip
    max_tokens = body.max_completion_tokens or body.max_tokens or services.settings.max_tokens
    params = body.model_copy(update={"max_tokens": max_tokens}).sampling(max_tokens, body.response_format)
    collection = None
    if body.use_context:
        collection = services.require_collection(body.collection or services.settings.default_collection)
    options = RetrievalOptions(body.retrieval.top_k, body.retrieval.filters, body.retrieval.rerank)
    prepared = await services.chat.prepare(to_messages(body), collection, options, max_tokens, body.use_context)
    return prepared, params, collection


@dataclass(frozen=True)
class Citing:
    """Where an answer's citations go besides `sources`: annotations with URLs under `base_url`, and optionally
    a "Sources:" block at the end of the content."""

    collection: str | None
    base_url: str
    in_content: bool

    def annotations(self, answer: Answer) -> list[dict[str, Any]]:
        return annotations_out(answer, self.collection, self.base_url)

    def tail(self, answer: Answer) -> str:
        return sources_block(answer) if self.in_content else ""


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={**ERROR_RESPONSES, **QUEUE_RESPONSES, 200: {"content": {"text/event-stream": {}}}},
    # Validated by hand (400s, as OpenAI answers): api.openapi adds ChatRequest to the components.
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": ref(ChatRequest)}}}},
)
async def chat_completions(request: Request, services: ServicesDep) -> Any:
    return await complete_chat(parse_request(await read_json(request)), services, request)


Shape = Callable[[dict[str, Any]], dict[str, Any]]


async def complete_chat(
    body: ChatRequest, services: Services, request: Request, shape: Shape | None = None
) -> ChatCompletion | EventSourceResponse:
    """The chat completion of a validated request; `shape` rewrites each stream chunk (for /v1/completions).
    A client that disconnects, in line or during the answer, stops its generation."""
    require_model(body.model, chat_model_names(services))
    # A place in the model's queue first, so a full queue answers 429 before any work is done.
    ticket = take_ticket(services, services.answers.may_generate or not body.use_context)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    if body.stream:
        with released_on_error(ticket):
            prepared, params, collection = await until_disconnected(request, _prepare(body, services))
        sources = sources_out(prepared.answer.sources if prepared.answer else [])
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        citing = _citing(body, services, collection, request)
        stream = _Stream(services.backend.model, completion_id, created, include_usage, citing, shape or (lambda c: c))
        ticket = kept_if(ticket, _needs_model(prepared))  # the stream owns it from here
        return await stream.open(services, request, ticket, prepared, params, sources)
    with holding(ticket):
        return await until_disconnected(request, _complete(services, request, ticket, body, completion_id, created))


def _citing(body: ChatRequest, services: Services, collection: str | None, request: Request) -> Citing:
    in_content = body.citations_in_content
    default = services.settings.citations_in_content
    return Citing(collection, str(request.base_url), default if in_content is None else in_content)


def _needs_model(prepared: PreparedChat) -> bool:
    grounded = prepared.grounded()
    return grounded is None or grounded.needs_model


async def _complete(
    services: Services, request: Request, ticket: Ticket | None, body: ChatRequest, completion_id: str, created: int
) -> ChatCompletion:
    prepared, params, collection = await _prepare(body, services)
    citing = _citing(body, services, collection, request)
    sources = sources_out(prepared.answer.sources if prepared.answer else [])
    if ticket is not None and _needs_model(prepared):
        await ticket.wait()
    choices, usage, model, verification = [], Usage(), services.backend.model, None
    grounded = prepared.grounded()
    for index in range(body.n):
        annotations: list[dict[str, Any]] = []
        if grounded is not None:
            answer = await services.answers.finish(grounded, params)
            text, model = answer.answer + citing.tail(answer), answer.model
            finish = _openai_finish(answer.finish_reason)
            annotations = citing.annotations(answer)
            verification = verification or verification_out(answer)
            result_usage = answer.usage
            if index == 0 and collection is not None:  # feedback names the completion's id
                await keep_answer(services, completion_id, collection, grounded.question, answer)
        else:
            result = await services.backend.complete(prepared.messages, params)
            text, finish, model, result_usage = result.text, result.finish_reason, result.model, result.usage
        usage = Usage(result_usage.prompt_tokens, usage.completion_tokens + result_usage.completion_tokens)
        message = ChatChoiceMessage.model_validate({"content": text, "annotations": annotations})
        choices.append(ChatChoice(index=index, message=message, finish_reason=finish))
    return ChatCompletion(
        id=completion_id, created=created, model=model, choices=choices, sources=sources,
        usage=UsageModel(**usage.as_dict()), verification=verification,
    )  # fmt: skip


def _openai_finish(reason: str) -> str:
    """OpenAI clients know stop, length, content_filter and tool_calls: an abstention is a normal stop."""
    return "stop" if reason == "abstained" else reason


@dataclass
class _Stream:
    """`chat.completion.chunk` events: the sources on the first chunk, the text, then (for a grounded answer) one
    chunk with the annotations and any "Sources:" block, the finish reason with the checked answer, usage."""

    model: str
    completion_id: str
    created: int
    include_usage: bool
    citing: Citing
    shape: Shape

    def chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, str]:
        return sse(self.shape({"id": self.completion_id, "object": "chat.completion.chunk", "created": self.created,
                               "model": self.model, "choices": choices, **extra}))  # fmt: skip

    def finished(self, finish_reason: str, usage: Usage | None, **extra: Any) -> list[dict[str, str]]:
        events = [self.chunk([{"index": 0, "delta": {}, "finish_reason": _openai_finish(finish_reason)}], **extra)]
        if self.include_usage:
            events.append(self.chunk([], usage=(usage or Usage()).as_dict()))
        return events

    def on_item(self, item: Delta | Finished) -> list[dict[str, str]]:
        if isinstance(item, Finished):  # the final chunks carry the verified answer's citations
            answer, events = item.answer, []
            annotations, tail = self.citing.annotations(answer), self.citing.tail(answer)
            if annotations or tail:
                delta = {"content": tail, "annotations": annotations}
                events.append(self.chunk([{"index": 0, "delta": delta, "finish_reason": None}]))
            return events + self.finished(answer.finish_reason, answer.usage, verification=final_answer(answer))
        events = []
        if item.text:
            events.append(self.chunk([{"index": 0, "delta": {"content": item.text}, "finish_reason": None}]))
        if item.finish_reason:  # a plain chat, straight from the backend
            events += self.finished(item.finish_reason, item.usage)
        return events

    async def open(
        self, services: Services, request: Request, ticket: Ticket | None, prepared: PreparedChat,
        params: SamplingParams, sources: list[Any],
    ) -> EventSourceResponse:  # fmt: skip
        grounded = prepared.grounded()
        if grounded is not None and self.citing.collection is not None:
            answers = services.answers.stream(grounded, params)
            logged = kept(services, answers, self.completion_id, self.citing.collection, grounded.question)
            items = admitted(ticket, logged)
        else:
            items = admitted(ticket, services.backend.stream(prepared.messages, params))
        head = self.chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
                          sources=[s.model_dump() for s in sources])  # fmt: skip
        return await open_stream(items, [head], self.on_item, request=request)


@router.get("/v1/models", response_model=ModelList, responses=ERROR_RESPONSES)
async def list_models(services: ServicesDep) -> ModelList:
    """The backend model first, then its aliases (RAG_MODEL_ALIASES): every name the chat routes answer to."""
    created = int(time.time())
    return ModelList(data=[ModelCard(id=name, created=created) for name in chat_model_names(services)])
