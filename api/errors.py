"""The one error contract: `{"error": {"code", "message", "traceId"}}`, and the trace id on every response."""

from __future__ import annotations

import contextvars
import functools
import logging
import re
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.errors import RagError, RetryLater

log = logging.getLogger("rag.api")
trace_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("trace_id", default="-")


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")  # in the order Allow names them
# OpenAI's error `type` by status, beside our contract, so OpenAI-aware tools classify our errors as OpenAI's.
_OPENAI_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error", 429: "rate_limit_error"}


def error_payload(code: int, message: str, param: str | None = None, openai_code: str | None = None) -> dict[str, Any]:
    """Our contract (`code` is the HTTP status, or OpenAI's string code where OpenAI has one, e.g. model_not_found)
    plus OpenAI's `type` and `param`."""
    kind = _OPENAI_TYPES.get(code, "server_error" if code >= 500 else "invalid_request_error")
    body = {"code": openai_code or code, "message": message, "traceId": trace_id_var.get(), "type": kind}
    return {"error": {**body, "param": param}}


def error_response(
    code: int, message: str, headers: dict[str, str] | None = None, param: str | None = None,
    openai_code: str | None = None,
) -> JSONResponse:  # fmt: skip
    return JSONResponse(error_payload(code, message, param, openai_code), status_code=code, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RagError)
    async def rag_error(_: Request, exc: RagError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if isinstance(exc, RetryLater):
            headers = {"Retry-After": str(exc.retry_after)}
        openai = {"param": getattr(exc, "param", None), "openai_code": getattr(exc, "openai_code", None)}
        return error_response(exc.status_code, exc.message, headers, **openai)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and (methods := allowed_methods(request)):
            headers["Allow"] = ", ".join(methods)
        return error_response(exc.status_code, str(exc.detail), headers)


def allowed_methods(request: Request) -> list[str]:
    """The methods of the request's path: those the OpenAPI document gives its path template, else (a path
    outside the document, or a document id holding '/') those of the routes that match it. Starlette's own
    405 names only the first route whose path matched, and one path often has several routes."""
    path = request.scope["path"]
    paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
    documented = {
        method.upper()
        for template, operations in paths.items()
        if _template_pattern(template).fullmatch(path)
        for method in operations
        if method.upper() in HTTP_METHODS
    }
    if documented:
        return [method for method in HTTP_METHODS if method in documented]
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]  # static files aside
    return [
        method
        for method in HTTP_METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]


@functools.cache
def _template_pattern(template: str) -> re.Pattern[str]:
    """An OpenAPI path template as a regex: each `{parameter}` is one path segment."""
    return re.compile(re.sub(r"\\{[^}]*\\}", "[^/]+", re.escape(template)))


class TraceMiddleware:
    """Gives each request a trace id (or takes the caller's X-Trace-Id), puts it in the `X-Trace-Id`
    header of every response and in the request's log line
    (api/middleware/request_log.py), and turns unexpected crashes into the
    contract's 500. Pure ASGI, so streamed responses pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-trace-id", b"").decode("latin-1")
        trace_id = incoming if incoming.isalnum() and len(incoming) <= 64 else uuid.uuid4().hex
        trace_id_var.set(trace_id)
        response_started = False

        async def send_with_trace(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                message.setdefault("headers", [])
                # x-request-id too: the OpenAI SDK reads it into `request_id`.
                message["headers"] = [*message["headers"], (b"x-trace-id", trace_id.encode()),
                                      (b"x-request-id", trace_id.encode())]  # fmt: skip
            await send(message)

        try:
            await self.app(scope, receive, send_with_trace)
        except Exception:
            log.exception("unhandled error traceId=%s", trace_id)
            if not response_started:
                await error_response(500, "internal error")(scope, receive, send_with_trace)
