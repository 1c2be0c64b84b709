"""Work that stops when nobody waits for it: run a request's work, cancel it the moment the client hangs up.

Starlette never cancels a handler whose client left: a plain (non-streamed) answer or a summary of a long
text would go on holding the model for nobody while the next clients wait. So /v1/query,
/v1/chat/completions and /v1/summarize run their work with `until_disconnected`: a task beside a watcher of
the connection (the ASGI `http.disconnect` message, the same signal sse-starlette watches once a stream has
started), cancelling the task as soon as the client goes. The cancellation reaches the backend call (the
HTTP request to a model server is closed, the local model is aborted inside its compute graph) and a place
in the generation queue. Streamed responses stop the same way once they have started (api/streaming.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

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


async def until_disconnected(request: Request, work: Awaitable[T]) -> T:
    """The result of `work`, or ClientDisconnected once the client has left and `work` is cancelled."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    gone = False
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when this handler is itself cancelled (server shutdown): take the work down with it
        watcher.cancel()
        if not task.done():
            gone = True
            task.cancel()
            # Let its cleanup (closing the backend connection, stopping the model) run before we return;
            # whatever it ends with is retrieved here, so asyncio does not log it: nobody is left to tell.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if gone or task.cancelled():
        raise ClientDisconnected("the client disconnected before the answer was ready")
    return task.result()
