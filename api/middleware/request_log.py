"""One log line per request (text, or JSON with RAG_LOG_FORMAT=json), and the HTTP metrics of each request.

The line carries the trace id, route, status, latency, collection, the caller's key name (JSON: `key`) and
tokens; never a request body, document text, query string or header (keys stay out of logs).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import trace_id_var
from api.middleware.auth import CALLER_SCOPE_KEY
from api.middleware.metrics import record_request
from rag.telemetry import start_request_notes

log = logging.getLogger("rag.api")


class RequestLogMiddleware:
    """Pure ASGI (streamed responses pass untouched); it sits inside TraceMiddleware, so the trace id is set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        notes = start_request_notes()
        started, status = time.perf_counter(), 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"  # the template: few label values
            record_request(scope["method"], route, status, elapsed)
            fields: dict[str, Any] = {
                "traceId": trace_id_var.get(), "method": scope["method"], "route": route, "status": status,
                "latencyMs": round(elapsed * 1000, 1),
                "collection": notes.collection or (scope.get("path_params") or {}).get("name"),
                "key": scope.get(CALLER_SCOPE_KEY), "promptTokens": notes.prompt_tokens,
                "completionTokens": notes.completion_tokens,
            }  # fmt: skip
            span = trace.get_current_span().get_span_context()
            if span.is_valid:
                fields["otelTraceId"] = format(span.trace_id, "032x")
            log.info(
                "%s %s %d %.1fms traceId=%s collection=%s tokens=%d/%d", scope["method"], scope["path"], status,
                elapsed * 1000, fields["traceId"], fields["collection"] or "-", notes.prompt_tokens,
                notes.completion_tokens, extra={"fields": fields},
            )  # fmt: skip


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and a request's `fields`. Written here rather
    than pulling in a library: it is a dozen lines, and which fields may appear stays visible in one place."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(log_format: str) -> None:
    """The process's log lines, for `rag serve`: text (as before) or JSON."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
