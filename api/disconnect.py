"""Work that stops when its client goes away, for routes that compute before they answer.

Starlette does not cancel a handler whose client disconnected: a summary of a long text would go on
calling the model for minutes for nobody. `until_disconnected` runs the work as a task beside a watcher
of the connection and cancels the work the moment the client leaves; the cancellation reaches the
backend call (the HTTP request to a model server is closed, the local model stops between tokens).
Streamed responses already stop the same way once they have started (api/streaming.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

from starlette.requests import Request

from rag.errors import RagError

T = TypeVar("T")


class ClientDisconnected(RagError):
    """The client left before the answer; 499 (nginx's "client closed request") shows it in the log line."""

    status_code = 499


async def _disconnected(request: Request) -> None:
    """Return once the client has gone. The body is already read, so the next ASGI message is the
    disconnect (event-driven, unlike polling `request.is_disconnected()`)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def until_disconnected(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """The result of `work`, or ClientDisconnected once the client has left and `work` is cancelled."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when this handler is itself cancelled (server shutdown)
        watcher.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task  # let the backend call close its connection before we return
    if task.cancelled():
        raise ClientDisconnected("the client disconnected before the answer was ready")
    return task.result()
