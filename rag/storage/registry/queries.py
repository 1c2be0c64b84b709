"""The registry's queries, written once for both engines (see types.py for what the registry keeps).

An engine's class (sqlite.py, postgres.py) supplies where they run (`sql`) and the few pieces that differ:
"insert unless present", null-safe equality, how the metadata column is stored, and the writer leases.

Reads keep to the request's document scope (rag.access.current_scope): a document it does not admit is not
there, and collections count only the documents it admits. (A key with a scope never writes: api.permissions.)
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from rag.access import current_scope
from rag.storage.clock import now
from rag.storage.registry.types import CollectionRecord, DocumentRecord
from rag.storage.sql import Row, Sql


class SqlRegistry:
    sql: Sql
    INSERT_COLLECTION: ClassVar[str]  # (name, description, created_at), nothing when the name exists
    SAME_WRITER: ClassVar[str]  # `writer` equals one parameter, NULL included

    def _metadata_in(self, metadata: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _metadata_out(self, stored: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _record(self, row: Row) -> DocumentRecord:
        return DocumentRecord(**{**row, "metadata": self._metadata_out(row["metadata"])})

    # Collections -----------------------------------------------------------------------------

    def ensure_collection(self, name: str, description: str = "") -> bool:
        return self.sql.change(self.INSERT_COLLECTION, (name, description, now())) == 1

    def _visible(self, records: list[DocumentRecord]) -> list[DocumentRecord]:
        scope = current_scope()
        if scope is None:
            return records
        return [r for r in records if scope.admits_document(r.document_id, r.filename, r.metadata)]

    def collections(self) -> list[CollectionRecord]:
        if current_scope() is not None:
            return self._scoped_collections()
        rows = self.sql.rows(
            "SELECT c.name, c.description, c.created_at, CAST(count(d.document_id) AS integer) AS documents,"
            " CAST(coalesce(sum(d.chunk_count), 0) AS integer) AS chunks FROM collections c"
            " LEFT JOIN documents d ON d.collection = c.name AND d.version IS NOT NULL"
            " GROUP BY c.name ORDER BY c.name"
        )
        return [CollectionRecord(**row) for row in rows]

    def _scoped_collections(self) -> list[CollectionRecord]:
        """Counted in Python: what a scope admits is decided on each document's metadata."""
        live = self.sql.rows("SELECT * FROM documents WHERE version IS NOT NULL")
        documents, chunks = Counter[str](), Counter[str]()
        for record in self._visible([self._record(r) for r in live]):
            documents[record.collection] += 1
            chunks[record.collection] += record.chunk_count
        rows = self.sql.rows("SELECT name, description, created_at FROM collections ORDER BY name")
        return [CollectionRecord(**r, documents=documents[r["name"]], chunks=chunks[r["name"]]) for r in rows]

    def exists(self, name: str) -> bool:
        return bool(self.sql.rows("SELECT 1 AS found FROM collections WHERE name = %s", (name,)))

    def collection(self, name: str) -> CollectionRecord | None:
        return next((c for c in self.collections() if c.name == name), None)

    def delete_collection(self, name: str) -> None:
        with self.sql.transaction() as tx:
            tx.change("DELETE FROM documents WHERE collection = %s", (name,))
            tx.change("DELETE FROM collections WHERE name = %s", (name,))

    # Documents -------------------------------------------------------------------------------

    def get(self, collection: str, document_id: str) -> DocumentRecord | None:
        sql = "SELECT * FROM documents WHERE collection = %s AND document_id = %s"
        rows = self.sql.rows(sql, (collection, document_id))
        return next(iter(self._visible([self._record(rows[0])])), None) if rows else None

    def documents(self, collection: str, status: str | None = "ready") -> list[DocumentRecord]:
        sql, args = "SELECT * FROM documents WHERE collection = %s", [collection]
        if status == "ready":  # a document being replaced keeps its live version meanwhile
            sql += " AND version IS NOT NULL"
        elif status:
            sql, args = sql + " AND status = %s", [*args, status]
        return self._visible(
            [self._record(r) for r in self.sql.rows(sql + " ORDER BY updated_at DESC, document_id", args)]
        )

    def pending(self) -> list[DocumentRecord]:
        return [self._record(r) for r in self.sql.rows("SELECT * FROM documents WHERE status = 'ingesting'")]

    def begin(
        self,
        collection: str,
        document_id: str,
        filename: str,
        size: int,
        sha256: str,
        version: str,
        metadata: dict[str, Any],
        writer: str | None = None,
    ) -> None:
        stamp = now()
        self.ensure_collection(collection)
        row = (collection, document_id, filename, size, sha256, version, self._metadata_in(metadata), stamp, stamp)
        self.sql.change(
            "INSERT INTO documents (collection, document_id, filename, size, sha256, pending_version, status,"
            " metadata, created_at, updated_at, writer) VALUES (%s, %s, %s, %s, %s, %s, 'ingesting', %s, %s, %s, %s)"
            " ON CONFLICT (collection, document_id) DO UPDATE SET pending_version = excluded.pending_version,"
            " status = 'ingesting', updated_at = excluded.updated_at, writer = excluded.writer",
            (*row, writer),
        )

    def finish(
        self,
        collection: str,
        document_id: str,
        *,
        filename: str,
        size: int,
        sha256: str,
        version: str,
        chunk_count: int,
        pages: int | None,
        metadata: dict[str, Any],
        left_by: str | None = None,
    ) -> bool:
        sql = (
            "UPDATE documents SET filename = %s, size = %s, sha256 = %s, version = %s, pending_version = NULL,"
            " status = 'ready', chunk_count = %s, pages = %s, metadata = %s, updated_at = %s, writer = NULL"
            " WHERE collection = %s AND document_id = %s"
        )
        args = [filename, size, sha256, version, chunk_count, pages, self._metadata_in(metadata), now()]
        args += [collection, document_id]
        if left_by is not None:  # recovery: only while the writer that left it still has it
            sql, args = f"{sql} AND status = 'ingesting' AND {self.SAME_WRITER}", [*args, left_by]
        return self.sql.change(sql, args) == 1

    def abandon(self, collection: str, document_id: str, left_by: str | None = None) -> bool:
        where, args = "collection = %s AND document_id = %s", [collection, document_id]
        if left_by is not None:
            where, args = f"{where} AND status = 'ingesting' AND {self.SAME_WRITER}", [*args, left_by]
        with self.sql.transaction() as tx:
            gone = tx.change(f"DELETE FROM documents WHERE {where} AND version IS NULL", args)
            kept = tx.change(
                f"UPDATE documents SET status = 'ready', pending_version = NULL, writer = NULL WHERE {where}", args
            )
        return gone + kept > 0

    def delete(self, collection: str, document_id: str) -> None:
        self.sql.change("DELETE FROM documents WHERE collection = %s AND document_id = %s", (collection, document_id))
