"""Plain data passed between the core modules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rag.errors import Unprocessable


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


_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$")


def check_collection_name(name: str) -> str:
    """Collection names map 1:1 to Chroma collections, so they follow Chroma's rules."""
    if not _COLLECTION_NAME.match(name) or ".." in name:
        raise Unprocessable(
            f"invalid collection name {name!r}: 3-63 characters, letters, digits, '.', '_' or '-',"
            " starting and ending with a letter or digit"
        )
    return name
