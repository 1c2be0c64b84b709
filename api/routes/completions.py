"""OpenAI's legacy POST /v1/completions over the same grounded path as chat (LlamaIndex `OpenAILike` uses it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import ServicesDep
from api.routes.chat import complete_chat
from api.schemas.common import ERROR_RESPONSES, QUEUE_RESPONSES
from api.schemas.openai import ChatCompletion, ChatRequest, CompletionChoice, CompletionRequest, TextCompletion
from rag.errors import InvalidInput

router = APIRouter(tags=["openai-compatible"])


def as_chat(body: CompletionRequest) -> ChatRequest:
    if isinstance(body.prompt, list) and len(body.prompt) != 1:
        raise InvalidInput("prompt: send one prompt per request")
    prompt = body.prompt[0] if isinstance(body.prompt, list) else body.prompt
    if not prompt.strip():
        raise InvalidInput("prompt: must not be empty")
    fields = body.model_dump(exclude={"prompt"}, exclude_unset=True)
    return ChatRequest.model_validate({**fields, "messages": [{"role": "user", "content": prompt}]})


def completion_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    """A `chat.completion.chunk` as a `text_completion` chunk: the delta's content becomes `text`."""
    choices = [
        {"index": c["index"], "text": c["delta"].get("content") or "", "logprobs": None,
         "finish_reason": c["finish_reason"]}
        for c in chunk["choices"]
    ]  # fmt: skip
    return {**chunk, "id": chunk["id"].replace("chatcmpl-", "cmpl-"), "object": "text_completion", "choices": choices}


@router.post(
    "/v1/completions",
    response_model=TextCompletion,
    responses={**ERROR_RESPONSES, **QUEUE_RESPONSES, 200: {"content": {"text/event-stream": {}}}},
)
async def completions(body: CompletionRequest, request: Request, services: ServicesDep) -> Any:
    result = await complete_chat(as_chat(body), services, request, shape=completion_chunk)
    if not isinstance(result, ChatCompletion):
        return result  # the stream
    return TextCompletion(
        id=result.id.replace("chatcmpl-", "cmpl-"), created=result.created, model=result.model,
        choices=[CompletionChoice(index=c.index, text=c.message.content, finish_reason=c.finish_reason)
                 for c in result.choices],
        usage=result.usage, sources=result.sources, verification=result.verification,
    )  # fmt: skip
