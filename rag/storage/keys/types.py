"""Scoped API keys: the `KeyRecord` shown to people and the `KeyStore` protocol every engine implements.

Keys are stored as SHA-256 digests only: the key itself is shown once, at creation. The server looks a key
up on every request (one indexed query), so a key created or revoked by another process counts at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rag.access import DocumentScope, Principal, Role


@dataclass(frozen=True)
class KeyRecord:
    """What `rag keys list` shows: never the key, nor its digest."""

    name: str
    role: Role
    collections: list[str] | None
    created_at: str
    documents: dict[str, list[str]] | None = None  # the document filter (`--where`), None for every document


class KeyStore(Protocol):
    def create(
        self, name: str, role: Role, collections: frozenset[str] | None, documents: DocumentScope | None = None
    ) -> str:
        """Store a new key; returns it in plain text, the only time it exists outside the caller's hands."""
        ...

    def lookup(self, key: str) -> Principal | None: ...
    def records(self) -> list[KeyRecord]: ...
    def revoke(self, name: str) -> None: ...
    def has_keys(self) -> bool: ...
    def close(self) -> None: ...
