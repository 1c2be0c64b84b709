"""API keys: checked before routing, so an unauthenticated client learns nothing about a route, not even
whether it exists (404), takes that method (405) or what its body looks like (422).

Two kinds of keys: RAG_API_KEYS (admins, every collection) and the scoped keys of `rag keys create`
(rag/storage/keys/). Auth is on while either holds a key; what a caller may do is api/permissions.py's business.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from api.permissions import caller_var
from rag.access import ENV_ADMIN, OPEN_ACCESS, Principal, scoped_to
from rag.errors import Unauthorized
from rag.storage.keys import KeyStore

DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
DOCS_PREFIXES = ("/static-offline-docs/",)  # Swagger UI and ReDoc assets (fastapi-offline)
ALWAYS_OPEN = frozenset({"/health", "/"})
OPEN_PREFIXES = ("/ui/",)  # the web page's HTML, CSS and JS hold no data; its calls to /v1 send the key
CALLER_SCOPE_KEY = "rag.caller"  # the caller's key name, for the request's log line


class KeyChecker:
    """Bearer keys compared in constant time: against a digest of every key, whatever matches first, so
    neither the position of a match nor a key's length shows in the response time."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def matches(self, token: str) -> bool:
        given = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(given, digest)
        return matched

    def check(self, authorization: str | None) -> None:
        """Raise Unauthorized unless `authorization` is `Bearer <one of the keys>`."""
        if not self.matches(bearer_token(authorization)):
            raise Unauthorized("invalid API key")


def bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <key>'")
    return token.strip()


class Authenticator:
    """Who is calling. The store is asked on every request (an indexed query, tens of microseconds), so a key
    revoked by `rag keys revoke` in another process fails on the server's very next request."""

    def __init__(self, admin_keys: KeyChecker, store: KeyStore) -> None:
        self.admin_keys = admin_keys
        self.store = store
        self._required = bool(admin_keys)

    def required(self) -> bool:
        # Once any key was created auth stays on (revoked keys keep their rows), so one "yes" is kept.
        self._required = self._required or self.store.has_keys()
        return self._required

    def authenticate(self, authorization: str | None) -> Principal:
        if not self.required():
            return OPEN_ACCESS
        token = bearer_token(authorization)
        if self.admin_keys.matches(token):
            return ENV_ADMIN
        caller = self.store.lookup(token)
        if caller is None:
            raise Unauthorized("invalid API key")
        return caller


class ApiKeyMiddleware:
    """Answers 401 (the error contract) to any request without a valid key, except /health, the web page's
    files and, when RAG_PUBLIC_DOCS / RAG_PUBLIC_METRICS are set, the OpenAPI docs / the metrics; sets the
    caller (api.permissions.caller_var) and its document scope (rag.access.current_scope) for everything after.
    Runs inside TraceMiddleware, so the 401 has a trace id."""

    def __init__(
        self, app: ASGIApp, authenticator: Authenticator, public_docs: bool, public_metrics: bool = False
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.open_paths = (
            ALWAYS_OPEN | (DOCS_PATHS if public_docs else set()) | ({"/metrics"} if public_metrics else set())
        )
        self.open_prefixes = OPEN_PREFIXES + DOCS_PREFIXES if public_docs else OPEN_PREFIXES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization")
        try:
            caller = self.authenticator.authenticate(header.decode("latin-1") if header is not None else None)
        except Unauthorized as exc:
            response = error_response(401, exc.message, {"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        scope[CALLER_SCOPE_KEY] = caller.name
        token = caller_var.set(caller)
        try:
            with scoped_to(caller.documents):  # the documents every store read of this request may return
                await self.app(scope, receive, send)
        finally:
            caller_var.reset(token)

    def _is_open(self, path: str) -> bool:
        return path in self.open_paths or path.startswith(self.open_prefixes)
