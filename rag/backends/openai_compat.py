"""Any OpenAI-compatible chat completions server, through the official `openai` SDK.

Llama API's compatibility endpoint, DeepInfra, vLLM, Ollama and the llama.cpp server all speak it.
The SDK brings the timeouts; retries on 429, 5xx and connection errors run inside our time budget
(rag/backends/retry.py), since the SDK's own would sleep out any `Retry-After` up to a minute.
A caller that goes away cancels the request, which closes its connection: the server stops generating.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai

from rag.backends.base import Completion, Delta, Message, SamplingParams, Usage, estimate_tokens, messages_as_dicts
from rag.backends.retry import RetryBudget, retryable
from rag.config import Settings
from rag.errors import BackendError, BackendTimeout, RagError

# Not part of OpenAI's schema: sent in the body as the Llama-serving servers expect them.
_EXTRA_PARAMS = ("top_k", "min_p", "repetition_penalty")


def backend_failure(exc: Exception) -> RagError:
    """Map an SDK exception to our contract: 504 for timeouts, 502 for everything else."""
    if isinstance(exc, openai.APITimeoutError):
        return BackendTimeout("the chat backend did not answer in time")
    if isinstance(exc, openai.APIStatusError):
        return BackendError(f"the chat backend answered HTTP {exc.status_code}: {exc.message}")
    if isinstance(exc, openai.APIConnectionError):
        return BackendError(f"cannot reach the chat backend: {exc.__cause__ or exc}")
    return BackendError(f"the chat backend sent an unusable answer ({type(exc).__name__}: {exc})")


class OpenAICompatBackend:
    def __init__(self, settings: Settings) -> None:
        self.model = settings.chat_model or "default"
        self.context_window = settings.chat_context_window
        self.timeout_s, self.max_retries = settings.chat_timeout_s, settings.chat_max_retries
        self.client = openai.AsyncOpenAI(
            base_url=settings.chat_base_url,
            api_key=settings.chat_api_key or "not-needed",
            timeout=settings.chat_timeout_s,
            max_retries=0,  # see _create
        )

    def _request(self, messages: list[Message], params: SamplingParams) -> dict[str, Any]:
        given = params.given()
        extra = {k: given.pop(k) for k in _EXTRA_PARAMS if k in given}
        if "repetition_penalty" in extra:  # vLLM reads repetition_penalty; llama.cpp servers read repeat_penalty
            extra["repeat_penalty"] = extra["repetition_penalty"]
        return {"model": self.model, "messages": messages_as_dicts(messages), **given, "extra_body": extra or None}

    async def _create(self, request: dict[str, Any]) -> Any:
        """`chat.completions.create` with retries on 429, 5xx, timeouts and connection errors, within the budget."""
        budget = RetryBudget(self.timeout_s, self.max_retries)
        for attempt in range(self.max_retries + 1):
            try:
                return await self.client.chat.completions.create(**request, timeout=budget.attempt_timeout())
            except openai.APIStatusError as exc:
                if not retryable(exc.status_code):
                    raise
                await budget.before_retry(attempt, backend_failure(exc), exc.response.headers.get("retry-after"))
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                await budget.before_retry(attempt, backend_failure(exc))
        raise AssertionError("unreachable: before_retry raises on the last attempt")

    async def complete(self, messages: list[Message], params: SamplingParams) -> Completion:
        try:
            response = await self._create(self._request(messages, params))
            choice = response.choices[0]
            text = choice.message.content or ""
        except (openai.OpenAIError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise backend_failure(exc) from exc
        usage = Usage(response.usage.prompt_tokens, response.usage.completion_tokens) if response.usage else Usage()
        return Completion(text, choice.finish_reason or "stop", response.model or self.model, usage)

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        request = self._request(messages, params)
        try:
            stream = await self._create({**request, "stream": True, "stream_options": {"include_usage": True}})
        except (openai.OpenAIError, ValueError) as exc:
            raise backend_failure(exc) from exc
        finish_reason, usage, produced = None, None, []
        try:
            async for chunk in stream:
                if chunk.usage:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices or []:
                    if choice.delta and choice.delta.content:
                        produced.append(choice.delta.content)
                        yield Delta(text=choice.delta.content)
                    finish_reason = choice.finish_reason or finish_reason
        except (openai.OpenAIError, ValueError, TypeError) as exc:
            raise backend_failure(exc) from exc
        except Exception as exc:  # httpx errors from a cut connection surface here unwrapped
            raise BackendError(f"the chat backend stream broke off: {exc}") from exc
        finally:
            await stream.close()  # on client disconnect this stops the backend's generation
        if finish_reason is None:
            raise BackendError("the chat backend stream ended without a finish reason")
        if usage is None:  # e.g. llama.cpp's server ignores include_usage; it sends about one token per chunk
            usage = Usage(sum(estimate_tokens(m.content) for m in messages), len(produced))
        yield Delta(finish_reason=finish_reason, usage=usage)

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    async def aclose(self) -> None:
        await self.client.close()

    async def health(self) -> bool:
        try:
            await self.client.models.list(timeout=5)
            return True
        except openai.OpenAIError:
            return False
