"""Plain data passed between the core modules."""

from __future__ import annotations

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


MAX_COLLECTION_NAME = 128


def check_collection_name(name: str) -> str:
    """Names are labels people choose: 1-128 printable characters of any script. They never reach Chroma
    as they are (see `rag.store.chroma_collection_name`); `/` is refused because a name is a URL path
    segment, and `.`/`..` because clients normalise them away."""
    if (
        not 1 <= len(name) <= MAX_COLLECTION_NAME
        or not name.isprintable()
        or name != name.strip()
        or "/" in name
        or name in (".", "..")
    ):
        raise Unprocessable(
            f"invalid collection name {name!r}: 1-{MAX_COLLECTION_NAME} printable characters, no '/',"
            " no leading or trailing spaces, not '.' or '..'"
        )
    return name
