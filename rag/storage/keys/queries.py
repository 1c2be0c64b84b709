"""The key store's queries, the same on both engines; an engine's class (sqlite.py, postgres.py) supplies
where they run (`sql`). A revoked key keeps its row, marked revoked: its name is free again, and a server
whose every key was revoked stays closed rather than opening to anyone."""

from __future__ import annotations

import json

from rag.access import DocumentScope, Principal, Role, check_key_name, check_role, key_digest, new_key, parse_where
from rag.errors import Conflict, NotFound
from rag.storage.clock import now
from rag.storage.keys.types import KeyRecord
from rag.storage.sql import DuplicateRow, Sql


def _collections_out(raw: str | None) -> list[str] | None:
    return None if raw is None else sorted(json.loads(raw))


def _collections_in(collections: frozenset[str] | None) -> str | None:
    return None if collections is None else json.dumps(sorted(collections))


def _documents_out(raw: str | None) -> DocumentScope | None:
    return None if raw is None else parse_where(json.loads(raw))


def _documents_in(scope: DocumentScope | None) -> str | None:
    return None if scope is None else json.dumps(scope.filters)


class SqlKeyStore:
    sql: Sql

    def create(
        self, name: str, role: Role, collections: frozenset[str] | None, documents: DocumentScope | None = None
    ) -> str:
        key = new_key()
        row = (check_key_name(name), key_digest(key), check_role(role), _collections_in(collections),
               _documents_in(documents), now())  # fmt: skip
        try:
            self.sql.change(
                "INSERT INTO api_keys (name, digest, role, collections, documents, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                row,
            )
        except DuplicateRow as exc:
            raise Conflict(f"a key named {name!r} exists already (revoke it first, or pick another name)") from exc
        return key

    def lookup(self, key: str) -> Principal | None:
        sql = "SELECT name, role, collections, documents FROM api_keys WHERE digest = %s AND revoked_at IS NULL"
        rows = self.sql.rows(sql, (key_digest(key),))
        if not rows:
            return None
        row = rows[0]
        scope = _collections_out(row["collections"])
        return Principal(
            row["name"], row["role"], None if scope is None else frozenset(scope), _documents_out(row["documents"])
        )

    def records(self) -> list[KeyRecord]:
        sql = (
            "SELECT name, role, collections, documents, created_at FROM api_keys WHERE revoked_at IS NULL ORDER BY name"
        )
        return [
            KeyRecord(
                r["name"],
                r["role"],
                _collections_out(r["collections"]),
                r["created_at"],
                None if r["documents"] is None else json.loads(r["documents"]),
            )  # fmt: skip
            for r in self.sql.rows(sql)
        ]

    def revoke(self, name: str) -> None:
        sql = "UPDATE api_keys SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL"
        if not self.sql.change(sql, (now(), name)):
            raise NotFound(f"no key named {name!r} (see `rag keys list`)")

    def has_keys(self) -> bool:
        """True once any key was created, revoked ones included: auth then stays on."""
        return bool(self.sql.rows("SELECT EXISTS (SELECT 1 FROM api_keys) AS found")[0]["found"])
