"""The source store's queries, written once for both engines (see types.py for what it keeps)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rag.storage.sources.types import ItemState, SourceRecord
from rag.storage.sql import Row, Sql

_COLUMNS = ("id", "collection", "kind", "location", "options", "interval_s", "next_run_at", "created_at")
_UPDATABLE = {
    "interval_s", "next_run_at", "cursor", "job_id", "last_sync_at", "last_status", "last_error",
    "added", "changed", "removed", "unchanged", "failed", "options",
}  # fmt: skip


class SqlSourceStore:
    sql: Sql
    UPSERT_ITEM: ClassVar[str]  # (source_id, item_key, marker, document_id), replacing a row with the same key

    def add(self, record: SourceRecord) -> SourceRecord:
        values = [getattr(record, c) for c in _COLUMNS]
        values[4] = json.dumps(record.options)
        placeholders = ", ".join(["%s"] * len(_COLUMNS))
        self.sql.change(f"INSERT INTO sources ({', '.join(_COLUMNS)}) VALUES ({placeholders})", values)
        added = self.get(record.id)
        assert added is not None
        return added

    def get(self, source_id: str) -> SourceRecord | None:
        rows = self.sql.rows("SELECT * FROM sources WHERE id = %s", (source_id,))
        return _record(rows[0]) if rows else None

    def sources(self, collection: str | None = None) -> list[SourceRecord]:
        if collection is None:
            rows = self.sql.rows("SELECT * FROM sources ORDER BY created_at, id")
        else:
            rows = self.sql.rows("SELECT * FROM sources WHERE collection = %s ORDER BY created_at, id", (collection,))
        return [_record(r) for r in rows]

    def delete(self, source_id: str) -> None:
        with self.sql.transaction() as tx:
            tx.change("DELETE FROM source_items WHERE source_id = %s", (source_id,))
            tx.change("DELETE FROM sources WHERE id = %s", (source_id,))

    def update(self, source_id: str, **fields: Any) -> None:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not a source field: {', '.join(sorted(unknown))}")
        if "options" in fields:
            fields["options"] = json.dumps(fields["options"])
        assignments = ", ".join(f"{name} = %s" for name in fields)
        self.sql.change(f"UPDATE sources SET {assignments} WHERE id = %s", [*fields.values(), source_id])

    def take_due(self, source_id: str, due_at: float, next_run_at: float) -> bool:
        return (
            self.sql.change(
                "UPDATE sources SET next_run_at = %s WHERE id = %s AND next_run_at = %s",
                (next_run_at, source_id, due_at),
            )
            == 1
        )

    def items(self, source_id: str) -> dict[str, ItemState]:
        sql = "SELECT item_key, marker, document_id FROM source_items WHERE source_id = %s"
        rows = self.sql.rows(sql, (source_id,))
        return {r["item_key"]: ItemState(r["item_key"], r["marker"], r["document_id"]) for r in rows}

    def put_item(self, source_id: str, key: str, marker: str | None, document_id: str) -> None:
        self.sql.change(self.UPSERT_ITEM, (source_id, key, marker, document_id))

    def delete_item(self, source_id: str, key: str) -> None:
        self.sql.change("DELETE FROM source_items WHERE source_id = %s AND item_key = %s", (source_id, key))


def _record(row: Row) -> SourceRecord:
    return SourceRecord(**{**row, "options": json.loads(row["options"])})
