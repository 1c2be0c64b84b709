"""Synced sources: the `SourceRecord`, each item's `ItemState`, and the `SourceStore` protocol every engine implements.

A source belongs to a collection and says where its documents live (a folder, a git repository, ...). For
each item it last synced the store keeps a version marker (mtime+size and content hash, a git blob id, an
ETag) and the document the item became, so the next sync ingests only what changed and removes only what
this source put there. An item's row is written *before* its document (with no marker) and settled after:
a sync killed in between leaves a row naming the document, so the next sync finds it and nothing is orphaned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

COUNTS = ("added", "changed", "removed", "unchanged", "failed")


@dataclass
class SourceRecord:
    id: str
    collection: str
    kind: str  # folder | git | a plugin's name
    location: str  # a path, a URL
    options: dict[str, Any] = field(default_factory=dict)  # include, exclude, delete_on_remove, max_items, ...
    interval_s: float | None = None  # sync every this many seconds; None: only when asked
    next_run_at: float | None = None  # Unix time the next scheduled sync is due
    cursor: str | None = None  # where the last complete sync left the source (a git commit)
    job_id: str | None = None  # the latest sync job
    last_sync_at: str | None = None
    last_status: str | None = None  # done | failed
    last_error: str | None = None
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    created_at: str = ""

    @property
    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTS}


@dataclass(frozen=True)
class ItemState:
    """What the source held at an item when it was last synced. `marker` None: its sync never finished."""

    key: str
    marker: str | None
    document_id: str


class SourceStore(Protocol):
    def add(self, record: SourceRecord) -> SourceRecord: ...
    def get(self, source_id: str) -> SourceRecord | None: ...
    def sources(self, collection: str | None = None) -> list[SourceRecord]: ...
    def delete(self, source_id: str) -> None:
        """The source and its item states (its documents are the caller's business)."""
        ...

    def update(self, source_id: str, **fields: Any) -> None: ...
    def take_due(self, source_id: str, due_at: float, next_run_at: float) -> bool:
        """Move a due source's next run from `due_at` to `next_run_at`; True for the one caller that did
        (every replica's scheduler asks, one wins)."""
        ...

    def items(self, source_id: str) -> dict[str, ItemState]: ...
    def put_item(self, source_id: str, key: str, marker: str | None, document_id: str) -> None: ...
    def delete_item(self, source_id: str, key: str) -> None: ...
