"""Request body limits that hold however the bytes are sent: refused at once when `Content-Length` is
already too big, counted while the body streams in otherwise (chunked uploads declare no length).

Why by hand: Starlette and uvicorn have no body limit; a pure ASGI middleware sees every route's bytes
before anything parses them, so no route can forget the check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from rag.config import Settings
from rag.errors import TooLarge

IMPORT_PATH = "/v1/imports"
_UPLOAD_PATH = re.compile(r"^/v1/collections/.+/documents/?$")  # whatever characters a collection name holds


@dataclass(frozen=True)
class BodyLimit:
    max_bytes: int
    what: str  # names the body and the setting, for the message a client reads

    def message(self, declared: int | None) -> str:
        size = f"of {declared:,} bytes " if declared is not None else ""
        return f"{self.what} {size}is over the limit of {self.max_bytes:,} bytes"


def limit_for(settings: Settings, scope: Scope) -> BodyLimit:
    """Uploads may be big (multipart is staged on disk); every other body is parsed in memory, so small."""
    headers = dict(scope.get("headers") or [])
    content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
    if scope.get("method") == "POST" and _UPLOAD_PATH.match(scope.get("path", "")):
        if content_type.startswith("application/json"):
            # One text document, parsed whole in memory: the file limit plus room for escaping and metadata.
            json_text = min(settings.max_upload_bytes, settings.max_file_bytes + settings.max_request_bytes)
            return BodyLimit(json_text, "JSON text document (RAG_MAX_FILE_BYTES; send bigger files as multipart)")
        return BodyLimit(settings.max_upload_bytes, "upload (RAG_MAX_UPLOAD_BYTES)")
    if scope.get("method") == "POST" and scope.get("path") == IMPORT_PATH:  # a bundle, streamed to disk
        return BodyLimit(settings.max_upload_bytes, "bundle (RAG_MAX_UPLOAD_BYTES)")
    return BodyLimit(settings.max_request_bytes, "request body (RAG_MAX_REQUEST_BYTES)")


class BodyTooLarge(TooLarge):
    """Raised into whoever reads the body past its limit."""


class BodyLimitMiddleware:
    """413 with the error contract as soon as a body is known to be over its limit; the rest is never read."""

    def __init__(self, app: ASGIApp, limit: Callable[[Scope], BodyLimit]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit.max_bytes:
            await error_response(413, limit.message(declared), {"Connection": "close"})(scope, receive, send)
            return
        received, exceeded, started = 0, False, False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge(limit.message(None))
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    exceeded = True
                    raise BodyTooLarge(limit.message(declared))
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:  # whatever the route made of the cut-off body, the answer is 413
                return
            started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await error_response(413, limit.message(declared), {"Connection": "close"})(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
