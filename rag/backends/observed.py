"""The observed backend: a wrapper that times each generation and counts its tokens (/metrics, traces)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from rag.backends.base import ChatBackend, Completion, Delta, Message, SamplingParams, Usage
from rag.telemetry import STAGE_SECONDS, TIME_TO_FIRST_TOKEN, TOKENS_PER_SECOND, record_tokens, stage, tracer


class ObservedBackend:
    """A chat backend that times its generations and counts their tokens; everything else passes through."""

    def __init__(self, backend: ChatBackend) -> None:
        self.inner = backend

    def __getattr__(self, name: str) -> Any:  # model, context_window, count_tokens, health, aclose ...
        return getattr(self.inner, name)

    async def complete(self, messages: list[Message], params: SamplingParams) -> Completion:
        with stage("generate", model=self.inner.model):
            completion = await self.inner.complete(messages, params)
        record_tokens(completion.usage.prompt_tokens, completion.usage.completion_tokens)
        return completion

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        # Not the current span: an async generator may resume in another context, where detaching it would fail.
        span = tracer.start_span("generate", attributes={"model": self.inner.model})
        started, first = time.perf_counter(), None
        usage: Usage | None = None
        deltas = self.inner.stream(messages, params)
        try:
            async for delta in deltas:
                if delta.text and first is None:
                    first = time.perf_counter()
                    TIME_TO_FIRST_TOKEN.observe(first - started)
                usage = delta.usage or usage
                yield delta
        finally:
            close = getattr(deltas, "aclose", None)
            if close is not None:  # a client that went away stops the backend's generation now, not at GC
                await close()
            ended = time.perf_counter()
            STAGE_SECONDS.labels("generate").observe(ended - started)
            if usage is not None:
                record_tokens(usage.prompt_tokens, usage.completion_tokens)
                span.set_attributes(usage.as_dict())
                if first is not None and ended > first and usage.completion_tokens > 1:
                    TOKENS_PER_SECOND.observe((usage.completion_tokens - 1) / (ended - first))
            span.end()
