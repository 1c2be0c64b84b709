"""What the authenticated caller may do, decided in one place per concern:

- role: `authorize` (on every protected route, through api.deps.require_api_key) from `role_needed`;
- scope: `require_visible` (through Services.require_collection, which every route naming a collection calls)
  answers exactly like a collection that does not exist, so a key learns nothing about the others;
- documents: a key with a document filter only reads (`authorize`), and what it reads is filtered where the
  stores are read (rag.access.current_scope, set with the caller by the key check).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

from api.openapi import REF
from rag.access import NOBODY, Principal, Role
from rag.errors import Forbidden, NotFound

# Set by api.middleware.auth.ApiKeyMiddleware for the request's whole life (streams included); NOBODY outside one.
caller_var: ContextVar[Principal] = ContextVar("caller", default=NOBODY)

# POST routes that only read (a search, an answer, a summary): the others, and every DELETE, write.
READ_ONLY_POSTS = frozenset(
    {"/v1/search", "/v1/query", "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/summarize"}
)
# POST routes that write only the reader's own say: feedback on an answer it was given.
READER_POSTS = frozenset({"/v1/answers/{answer_id}/feedback"})
ADMIN_ROUTES = frozenset({"/metrics", "/v1/collections/{name}/export", "/v1/imports"})
# GET routes that show more than documents: other users' questions.
WRITER_GETS = frozenset({"/v1/collections/{name}/insights"})
_WHAT = {
    "writer": "uploads, deletions, new collections and insights",
    "admin": "server metrics, collection export and import",
}


def writes(method: str, route: str) -> bool:
    """Whether the route changes documents, collections, sources or keys (feedback is a reader's own say)."""
    return not (method in ("GET", "HEAD", "OPTIONS") or (method == "POST" and route in READ_ONLY_POSTS | READER_POSTS))


def role_needed(method: str, route: str) -> Role:
    """The least role for `method` on the route template `route`. A new POST, PUT, PATCH or DELETE route
    needs a writer until it is listed as read-only: forgetting fails closed."""
    if route in ADMIN_ROUTES:
        return "admin"
    if route in WRITER_GETS:
        return "writer"
    return "writer" if writes(method, route) else "reader"


def current_caller() -> Principal:
    return caller_var.get()


def authorize(method: str, route: str) -> Principal:
    """The caller, when its role allows `method` on `route`; else 403 saying which role it needs."""
    caller, needed = caller_var.get(), role_needed(method, route)
    if not caller.may(needed):
        raise Forbidden(
            f"the key {caller.name!r} has the {caller.role} role; {method} {route} needs the {needed} role"
            f" ({_WHAT[needed]})"
        )
    if caller.documents is not None and writes(method, route):
        # It would write beside documents it cannot see (replace one, delete a collection holding some).
        raise Forbidden(f"the key {caller.name!r} sees only documents where {caller.documents}: it may only read")
    return caller


def collection_not_found(name: str) -> NotFound:
    """The one answer for a collection that does not exist and for one outside the caller's scope."""
    return NotFound(f"collection {name!r} not found")


def require_visible(name: str) -> None:
    if not caller_var.get().sees(name):
        raise collection_not_found(name)


def require_creatable(name: str) -> None:
    """A scoped writer may create only the collections of its scope (403, whether the name exists or not)."""
    caller = caller_var.get()
    if not caller.sees(name):
        scope = ", ".join(sorted(caller.collections or ()))
        raise Forbidden(f"the key {caller.name!r} may only use the collections {scope}; not {name!r}")


def document_roles(schema: dict[str, Any], public_routes: Iterable[str] = ()) -> None:
    """Add the 403 to every operation in the OpenAPI document that needs more than a reader."""
    for path, operations in schema.get("paths", {}).items():
        if path in public_routes:
            continue
        for method, operation in operations.items():
            needed = role_needed(method.upper(), path)
            if needed == "reader" or not isinstance(operation, dict):
                continue
            operation.setdefault("responses", {})["403"] = {
                "description": f"The key's role may not do this: it needs the {needed} role",
                "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}},
            }
