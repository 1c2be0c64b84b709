"""API keys: checked before routing, so an unauthenticated client learns nothing about a route, not even
whether it exists (404), takes that method (405) or what its body looks like (422)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from rag.errors import Unauthorized

DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
DOCS_PREFIXES = ("/static-offline-docs/",)  # Swagger UI and ReDoc assets (fastapi-offline)
ALWAYS_OPEN = frozenset({"/health", "/"})
OPEN_PREFIXES = ("/ui/",)  # the web page's HTML, CSS and JS hold no data; its calls to /v1 send the key


class KeyChecker:
    """Bearer keys compared in constant time: against a digest of every key, whatever matches first, so
    neither the position of a match nor a key's length shows in the response time."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def check(self, authorization: str | None) -> None:
        """Raise Unauthorized unless `authorization` is `Bearer <one of the keys>`."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("missing bearer token: send 'Authorization: Bearer <key>'")
        given = hashlib.sha256(token.strip().encode("utf-8", "surrogateescape")).digest()
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(given, digest)
        if not matched:
            raise Unauthorized("invalid API key")


class ApiKeyMiddleware:
    """Answers 401 (the error contract) to any request without a valid key, except /health, the web page's
    files and, when RAG_PUBLIC_DOCS / RAG_PUBLIC_METRICS are set, the OpenAPI docs / the metrics.
    Runs inside TraceMiddleware, so the 401 has a trace id."""

    def __init__(self, app: ASGIApp, checker: KeyChecker, public_docs: bool, public_metrics: bool = False) -> None:
        self.app = app
        self.checker = checker
        self.open_paths = (
            ALWAYS_OPEN | (DOCS_PATHS if public_docs else set()) | ({"/metrics"} if public_metrics else set())
        )
        self.open_prefixes = OPEN_PREFIXES + DOCS_PREFIXES if public_docs else OPEN_PREFIXES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.checker and not self._is_open(scope["path"]):
            header = dict(scope.get("headers") or []).get(b"authorization")
            try:
                self.checker.check(header.decode("latin-1") if header is not None else None)
            except Unauthorized as exc:
                response = error_response(401, exc.message, {"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _is_open(self, path: str) -> bool:
        return path in self.open_paths or path.startswith(self.open_prefixes)
