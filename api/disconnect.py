"""Work that stops when nobody waits for it: run a request's work, cancel it if the client hangs up.

Starlette never cancels a handler whose client left; a plain (non-streamed) answer would run to its
end, holding the model while the next clients wait. So the answer routes run their work as a task
beside a watcher of the connection (the ASGI `http.disconnect` message, the same signal
sse-starlette watches once a stream has started), and cancel the task the moment the client goes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import Request
from fastapi.responses import Response

T = TypeVar("T")

# nginx's "client closed request": what the request's log line shows; the client never sees it.
CLIENT_CLOSED_REQUEST = 499


class ClientGone(Exception):
    """The client disconnected before its answer was ready; its work was cancelled."""


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass  # the body was read already: nothing but the disconnect comes here


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """`await work`, but cancel it and raise `ClientGone` as soon as the client disconnects."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when this handler itself is cancelled (server shutdown): take the work down with it
        watcher.cancel()
        task.cancel()
    if task.done() and not task.cancelled():
        return task.result()
    await asyncio.wait({task})  # let its cleanup (stopping the model call) run before the request ends
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it: nobody is left to tell
    raise ClientGone()


def client_gone_response(*_: object) -> Response:
    """The response a request whose client left "gets": only the log line shows it."""
    return Response(status_code=CLIENT_CLOSED_REQUEST)
