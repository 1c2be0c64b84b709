"""Chunk rows: the `KeywordStore` protocol every engine implements and the change sets it hands readers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from rag.types import Chunk


@dataclass(frozen=True)
class Changes:
    """What a reader must (re)load, read in one snapshot with the change log position it reflects."""

    latest: int  # the change log position these rows are current to
    documents: list[str] | None  # the documents changed since the reader's position; None = the whole collection
    # Their live chunks, (document_id, row id, chunk_id, header + text) in document order; for the whole
    # collection a stream, to be read once and at once (it holds a read transaction open meanwhile).
    rows: Iterable[tuple[str, int, str, str]]


class KeywordStore(Protocol):
    """Chunk rows and their change log, in one database engine."""

    def replace_document(self, collection: str, document_id: str, version: str, chunks: Sequence[Chunk]) -> None: ...
    def delete_document(self, collection: str, document_id: str) -> None: ...
    def delete_collection(self, collection: str) -> None: ...
    def document_version(self, collection: str, document_id: str) -> str | None: ...
    def count(self, collection: str, document_id: str | None = None) -> int: ...
    def document_chunks(self, collection: str, document_id: str) -> list[Chunk]: ...
    def first_chunks(self, collection: str, limit: int, filters: dict[str, Any] | None = None) -> list[Chunk]: ...
    def fetch(self, collection: str, chunk_ids: Sequence[str]) -> dict[str, Chunk]: ...
    def filtered_ids(self, collection: str, filters: dict[str, Any]) -> np.ndarray: ...

    def changes_since(self, collection: str, seen: int) -> Changes | None:
        """The documents changed after position `seen` (every document when `seen` < 0) and their rows,
        from one snapshot; None when nothing changed."""
        ...
