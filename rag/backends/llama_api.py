"""Llama API's native chat format (https://api.llama.com/v1/chat/completions).

Responses carry `completion_message.content.text` and `stop_reason`; streams are SSE events with
`event.event_type` start/progress/complete and the text in `event.delta.text`. No maintained
Python client speaks this format with our retry and cancellation needs, so it is a thin httpx client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from rag.backends.base import Completion, Delta, Message, SamplingParams, Usage, estimate_tokens, messages_as_dicts
from rag.backends.retry import RetryBudget, retryable
from rag.config import Settings
from rag.errors import BackendError, BackendTimeout


def _usage(metrics: list[dict[str, Any]] | None) -> Usage | None:
    values = {m.get("metric"): int(m.get("value", 0)) for m in metrics or []}
    if "num_prompt_tokens" not in values:
        return None
    return Usage(values["num_prompt_tokens"], values.get("num_completion_tokens", 0))


class LlamaAPIBackend:
    def __init__(self, settings: Settings) -> None:
        self.model = settings.chat_model or "Llama-3.3-8B-Instruct"
        self.context_window = settings.chat_context_window
        self.timeout_s, self.max_retries = settings.chat_timeout_s, settings.chat_max_retries
        headers = {"Authorization": f"Bearer {settings.chat_api_key}"} if settings.chat_api_key else {}
        base_url = (settings.chat_base_url or "https://api.llama.com/v1").rstrip("/")
        self.client = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=settings.chat_timeout_s)

    def _payload(self, messages: list[Message], params: SamplingParams, stream: bool) -> dict[str, Any]:
        given = params.given()
        # Llama API names the length limit max_completion_tokens.
        given["max_completion_tokens"] = given.pop("max_tokens")
        return {"model": self.model, "messages": messages_as_dicts(messages), **given, "stream": stream}

    async def _send(self, payload: dict[str, Any]) -> httpx.Response:
        """POST with retries and exponential backoff on 429, 5xx and connection errors, within the time budget."""
        budget = RetryBudget(self.timeout_s, self.max_retries)
        for attempt in range(self.max_retries + 1):
            try:
                request = self.client.build_request(
                    "POST", "/chat/completions", json=payload, timeout=budget.attempt_timeout()
                )
                response = await self.client.send(request, stream=True)
            except httpx.TimeoutException:
                await budget.before_retry(attempt, BackendTimeout("the chat backend did not answer in time"))
                continue
            except httpx.TransportError as exc:
                await budget.before_retry(attempt, BackendError(f"cannot reach the chat backend: {exc}"))
                continue
            if response.status_code < 400:
                return response
            body = (await response.aread()).decode(errors="replace")[:300]
            await response.aclose()
            failure = BackendError(f"the chat backend answered HTTP {response.status_code}: {body}")
            if not retryable(response.status_code):
                raise failure
            await budget.before_retry(attempt, failure, response.headers.get("retry-after"))
        raise AssertionError("unreachable: before_retry raises on the last attempt")

    async def complete(self, messages: list[Message], params: SamplingParams) -> Completion:
        response = await self._send(self._payload(messages, params, stream=False))
        try:
            data = json.loads(await response.aread())
            message = data["completion_message"]
            content = message["content"]
            text = content["text"] if isinstance(content, dict) else str(content)
        except httpx.TimeoutException as exc:
            raise BackendTimeout("the chat backend did not answer in time") from exc
        except (ValueError, KeyError, TypeError, httpx.HTTPError) as exc:
            raise BackendError(f"the chat backend sent an unusable answer ({type(exc).__name__}: {exc})") from exc
        finally:
            await response.aclose()
        usage = _usage(data.get("metrics")) or Usage(
            sum(estimate_tokens(m.content) for m in messages), estimate_tokens(text)
        )
        return Completion(text, message.get("stop_reason") or "stop", data.get("model", self.model), usage)

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        response = await self._send(self._payload(messages, params, stream=True))
        produced: list[str] = []
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                body = line[5:].strip()
                if body == "[DONE]":
                    continue
                event = json.loads(body).get("event", {})
                kind = event.get("event_type")
                if kind == "progress":
                    text = (event.get("delta") or {}).get("text", "")
                    if text:
                        produced.append(text)
                        yield Delta(text=text)
                elif kind == "complete":
                    usage = _usage(event.get("metrics")) or Usage(
                        sum(estimate_tokens(m.content) for m in messages), estimate_tokens("".join(produced))
                    )
                    yield Delta(finish_reason=event.get("stop_reason") or "stop", usage=usage)
                    return
        except httpx.TimeoutException as exc:
            raise BackendTimeout("the chat backend stopped sending in time") from exc
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            raise BackendError(f"the chat backend stream broke off: {exc}") from exc
        finally:
            await response.aclose()  # on client disconnect this stops the backend's generation
        raise BackendError("the chat backend stream ended without a complete event")

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def health(self) -> bool:
        try:
            return (await self.client.get("/models", timeout=5)).status_code < 500
        except httpx.HTTPError:
            return False
