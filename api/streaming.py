"""Server-Sent Events shared by the streaming routes: one way to start, relay, fail and end a stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from sse_starlette.sse import EventSourceResponse

from api.answers_out import final_answer
from api.disconnect import until_disconnected
from api.errors import error_payload
from rag.answering.service import Finished
from rag.backends.base import Delta
from rag.errors import RagError

Event = dict[str, str]


def sse(data: dict[str, Any] | str) -> Event:
    return {"data": data if isinstance(data, str) else json.dumps(data)}


async def open_stream(
    deltas: AsyncIterator[Any],
    head: list[Event],
    on_delta: Callable[[Any], list[Event]],
    on_error: Callable[[RagError], Event] = lambda exc: sse(error_payload(exc.status_code, exc.message)),
    request: Request | None = None,
) -> EventSourceResponse:
    """Wait for the first delta before answering 200, so a backend failing up front still gets its 502/504;
    then relay `head`, each delta as `on_delta` shapes it, a failure as `on_error`, and `data: [DONE]`.
    With `request`, a client that leaves before the first delta (in the queue, while the model reads the
    prompt) cancels the work too; after it, sse-starlette notices the disconnect and closes `deltas`."""
    first = await (until_disconnected(request, anext(deltas)) if request is not None else anext(deltas))

    async def events() -> AsyncIterator[Event]:
        try:
            for event in head:
                yield event
            delta: Delta | None = first
            while delta is not None:
                for event in on_delta(delta):
                    yield event
                delta = await anext(deltas, None)
        except RagError as exc:
            yield on_error(exc)
        finally:
            await deltas.aclose()  # a client that went away stops the generation
        yield sse("[DONE]")

    return EventSourceResponse(events(), ping=15)


def delta_events(delta: Delta, **done_extra: Any) -> list[Event]:
    """Plain text streams (summaries): `delta` pieces, then `done` with usage and finish_reason."""
    events = [sse({"type": "delta", "text": delta.text})] if delta.text else []
    if delta.finish_reason:
        usage = delta.usage.as_dict() if delta.usage else None
        events.append(sse({"type": "done", "usage": usage, "finish_reason": delta.finish_reason, **done_extra}))
    return events


def answer_events(item: Delta | Finished) -> list[Event]:
    """The /v1/query shape: `delta` pieces, then `citations` with the final answer, then `done`."""
    if isinstance(item, Delta):
        return [sse({"type": "delta", "text": item.text})] if item.text else []
    answer = item.answer
    final = {"type": "citations", **final_answer(answer)}
    done = {"type": "done", "usage": answer.usage.as_dict(), "finish_reason": answer.finish_reason}
    return [sse(final), sse(done)]


def answer_error(exc: RagError) -> Event:
    return sse({"type": "error", **error_payload(exc.status_code, exc.message)})
