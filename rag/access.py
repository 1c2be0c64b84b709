"""Who a caller is and what it may do: a role (reader < writer < admin), the collections it sees and, within
them, the documents it sees (a `DocumentScope`, in force for the request through `current_scope`)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, cast

from rag.errors import InvalidInput, Unprocessable
from rag.validation import MAX_FILTER_KEYS, check_collection_name, check_filters

Role = Literal["reader", "writer", "admin"]
ROLES: tuple[Role, ...] = ("reader", "writer", "admin")  # each may do what the ones before it may
KEY_PREFIX = "rag_"
_KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


# Metadata that differs from chunk to chunk of one document: a document filter on it would show parts of
# documents, so a key's filter may not name it.
CHUNK_KEYS = frozenset(
    {"collection", "page", "chunk_index", "start_char", "end_char", "sha256", "document_sha256", "version",
     "ingested_at", "section", "context", "instructions", "instructions_reason"}
)  # fmt: skip


@dataclass(frozen=True)
class DocumentScope:
    """The documents a key sees inside its collections: every key of `where` must match (AND), each with any
    of its values (OR). Matched against a document's metadata as its chunks carry it: the upload's `metadata`
    plus `document_id` and `filename` (and `source_id`, `origin` for synced documents). Values are strings and
    match string metadata only (as Chroma, SQLite and PostgreSQL compare them: "2024" is not 2024)."""

    where: tuple[tuple[str, tuple[str, ...]], ...]  # sorted, so equal scopes are equal and hash alike

    @classmethod
    def of(cls, where: Mapping[str, Iterable[str]]) -> DocumentScope:
        return cls(tuple(sorted((key, tuple(sorted(set(values)))) for key, values in where.items())))

    @property
    def filters(self) -> dict[str, list[str]]:
        """As search filters (rag.validation): a list is "any of"; the stores apply them like a request's."""
        return {key: list(values) for key, values in self.where}

    def admits(self, metadata: Mapping[str, Any]) -> bool:
        return all(isinstance(metadata.get(key), str) and metadata[key] in values for key, values in self.where)

    def admits_document(self, document_id: str, filename: str, metadata: Mapping[str, Any]) -> bool:
        """For a registry row: its metadata as its chunks carry it (the built-in keys win, as on chunks)."""
        return self.admits({**metadata, "document_id": document_id, "filename": filename})

    def __str__(self) -> str:
        return " and ".join(f"{key}={','.join(values)}" for key, values in self.where)


def parse_where(clauses: Iterable[str] | Mapping[str, Iterable[str]] | None) -> DocumentScope | None:
    """`["department=hr,people", "region=eu"]` (or the stored `{key: [values]}`) as a scope; None = every
    document. The same grammar as search filters, string values only."""
    if clauses is None:
        return None
    where: dict[str, list[str]] = {}
    pairs = clauses.items() if isinstance(clauses, Mapping) else [_split_clause(c) for c in clauses]
    for key, values in pairs:
        if key in CHUNK_KEYS:
            raise Unprocessable(f"a document filter cannot use {key!r}: it differs between a document's chunks")
        if key in where:
            raise Unprocessable(f"{key!r} is given twice: list its values once, separated by commas")
        where[key] = [str(v) for v in values]
    if not where:
        return None
    if len(where) > MAX_FILTER_KEYS:
        raise Unprocessable(f"at most {MAX_FILTER_KEYS} keys in a document filter")
    try:
        check_filters(dict(where))
    except InvalidInput as exc:
        raise Unprocessable(f"document filter: {exc.message}") from exc
    return DocumentScope.of(where)


def _split_clause(clause: str) -> tuple[str, list[str]]:
    key, equals, raw = clause.partition("=")
    values = list(dict.fromkeys(v.strip() for v in raw.split(",") if v.strip()))
    if not equals or not key.strip() or not values:
        raise Unprocessable(f"invalid filter {clause!r}: write KEY=VALUE or KEY=VALUE1,VALUE2 (any of)")
    return key.strip(), values


# The scope of the request being served (set with the caller by the API's key check); None = every document,
# as for the CLI and background jobs. The stores' read paths apply it (rag/retrieval/keyword.py,
# rag/storage/vectors.py, rag/storage/registry/queries.py), so every route sees the same documents.
_document_scope: ContextVar[DocumentScope | None] = ContextVar("document_scope", default=None)


def current_scope() -> DocumentScope | None:
    return _document_scope.get()


def set_scope(scope: DocumentScope | None) -> None:
    """For the rest of the current context (a request's task); `scoped_to` for a block."""
    _document_scope.set(scope)


@contextmanager
def scoped_to(scope: DocumentScope | None) -> Iterator[None]:
    token = _document_scope.set(scope)
    try:
        yield
    finally:
        _document_scope.reset(token)


@dataclass(frozen=True)
class Principal:
    """The caller behind a key. `collections` None = every collection, present and future; `documents` None =
    every document of them."""

    name: str
    role: Role
    collections: frozenset[str] | None = None
    documents: DocumentScope | None = None

    def may(self, needed: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(needed)

    def sees(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections


# RAG_API_KEYS keys, and everyone when no key is configured at all.
ENV_ADMIN = Principal("RAG_API_KEYS", "admin")
OPEN_ACCESS = Principal("anyone (no API keys configured)", "admin")
# Until a request is authenticated: may do nothing and sees nothing, so a path that skipped the check fails closed.
NOBODY = Principal("unauthenticated", "reader", frozenset())


def new_key() -> str:
    """256 random bits: guessing is hopeless, which is also why a plain SHA-256 (no salt, no slow KDF) is
    enough to store it."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def check_key_name(name: str) -> str:
    if not _KEY_NAME.fullmatch(name):
        raise Unprocessable(f"invalid key name {name!r}: 1-64 letters, digits, '_', '.', '@' or '-'")
    return name


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise Unprocessable(f"unknown role {role!r}: use {', '.join(ROLES)}")
    return cast(Role, role)


def parse_collections(names: str | Iterable[str] | None) -> frozenset[str] | None:
    """`hr,handbook` (or a list) as a scope; None = all collections. An empty scope is refused: such a key
    could do nothing."""
    if names is None:
        return None
    parts = names.split(",") if isinstance(names, str) else list(names)
    scope = frozenset(check_collection_name(p.strip()) for p in parts if p.strip())
    if not scope:
        raise Unprocessable("give at least one collection, or none at all for every collection")
    return scope
