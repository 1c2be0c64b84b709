"""Plain data passed between the core modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Chunk:
    """One piece of a document, as stored in the vector store and the keyword index."""

    chunk_id: str
    document_id: str
    collection: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchHit:
    """A retrieved chunk with its score and the metadata needed to cite it."""

    chunk_id: str
    document_id: str
    filename: str
    page: int | None
    text: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def section(self) -> str | None:
        """The heading path the chunk sits under ("Chapter 3 > 3.2 Systemd init"), when its document has headings."""
        value = self.metadata.get("section")
        return str(value) if value else None
