"""Who a caller is and what it may do: a role (reader < writer < admin) and the collections it sees."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, cast

from rag.errors import Unprocessable
from rag.validation import check_collection_name

Role = Literal["reader", "writer", "admin"]
ROLES: tuple[Role, ...] = ("reader", "writer", "admin")  # each may do what the ones before it may
KEY_PREFIX = "rag_"
_KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


@dataclass(frozen=True)
class Principal:
    """The caller behind a key. `collections` None = every collection, present and future."""

    name: str
    role: Role
    collections: frozenset[str] | None = None

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
