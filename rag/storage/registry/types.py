"""Document registry: what was ingested, where, and in which state; in SQLite (the data dir) or PostgreSQL.

States: `ingesting` while a new version is being written (the previous version, if any, stays
live), `ready` once its chunks are live. A row being written names its writer's lease; rows left
`ingesting` by a writer that is gone are repaired by the next writer to start (the pipeline's
`recover`). Where leases live follows the engine: lock files in the data dir with SQLite
(rag/storage/leases.py), session advisory locks with PostgreSQL, which every machine sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class DocumentRecord:
    collection: str
    document_id: str
    filename: str
    size: int
    sha256: str
    version: str | None
    pending_version: str | None
    status: str
    chunk_count: int
    pages: int | None
    created_at: str
    updated_at: str
    metadata: dict[str, Any] = field(default_factory=dict)
    writer: str | None = None  # lease of the process writing `pending_version`

    def public(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data.pop("pending_version")
        data.pop("writer")
        return data


@dataclass
class CollectionRecord:
    name: str
    description: str
    created_at: str
    documents: int
    chunks: int


class Registry(Protocol):
    """The registry's operations; one implementation per engine (sqlite.py, postgres.py beside this, sharing
    the queries of queries.py)."""

    def ensure_collection(self, name: str, description: str = "") -> bool:
        """Create the collection if needed; True when it was created."""
        ...

    def collections(self) -> list[CollectionRecord]: ...

    def exists(self, name: str) -> bool:
        """Cheap check for every request (collection() counts the documents too)."""
        ...

    def collection(self, name: str) -> CollectionRecord | None: ...
    def delete_collection(self, name: str) -> None: ...
    def get(self, collection: str, document_id: str) -> DocumentRecord | None: ...
    def documents(self, collection: str, status: str | None = "ready") -> list[DocumentRecord]: ...
    def pending(self) -> list[DocumentRecord]: ...

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
        """Record that `writer` is writing `version`; an existing live version stays as it is."""
        ...

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
        """Make `version` the live one. With `left_by` (recovery), only while the row is still pending from
        that writer, so a writer that took the document over meanwhile is left alone; False if not."""
        ...

    def abandon(self, collection: str, document_id: str, left_by: str | None = None) -> bool:
        """Forget a pending version: back to the live one, or no row at all if there was none.
        `left_by` as in `finish`: recovery touches a row only while that dead writer still has it."""
        ...

    def delete(self, collection: str, document_id: str) -> None: ...

    def writer_lease(self) -> str:
        """This process's lease id, taken on first use and held until the process ends."""
        ...

    def live_writers(self) -> set[str]:
        """Lease ids of the processes writing now (this one included, once it holds a lease)."""
        ...


def live_document(registry: Registry, collection: str, document_id: str) -> DocumentRecord:
    """The document's record when a version of it is live (a first version still being written is not)."""
    from rag.errors import NotFound

    record = registry.get(collection, document_id)
    if record is None or record.version is None:
        raise NotFound(f"document {document_id!r} not found in collection {collection!r}")
    return record
