"""What a summary reads: raw text, a stored document's chunks, or what a collection says about a topic.

The one place that turns a summary's source into units, for `POST /v1/summarize` and `rag summarize` alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.answering.summarize import Unit, document_units, hit_units
from rag.errors import InvalidInput, NotFound, TooLarge
from rag.storage.registry.types import live_document

if TYPE_CHECKING:
    from rag.retrieval.hybrid import Retrieval
    from rag.retrieval.keyword import KeywordIndex
    from rag.storage.registry.types import Registry


@dataclass(frozen=True)
class SummarySource:
    """Exactly one of `text`, `document_id` (with `collection`) or `topic` (with `collection`)."""

    text: str | None = None
    document_id: str | None = None
    topic: str | None = None
    collection: str | None = None
    top_k: int = 8  # chunks retrieved for a topic


@dataclass(frozen=True)
class Library:
    """Where stored text is read. `search` (the retriever's) is needed for topics only; `check_collection`
    is the caller's check that the collection exists and may be read (the API's access rules)."""

    registry: Registry
    keyword: KeywordIndex
    search: Callable[[str, str, int], Retrieval] | None = None
    check_collection: Callable[[str], object] | None = None


@dataclass
class SummaryInput:
    units: list[Unit]
    numbered: bool  # topic summaries cite their units as numbered sources


async def summary_input(source: SummarySource, library: Library, max_chars: int | None = None) -> SummaryInput:
    """The source as units; over `max_chars` characters it is refused (map-reduce time grows with the input:
    60 KB took 564 s with the local model)."""
    chosen = await _units(source, library)
    size = sum(len(u.text) for u in chosen.units)
    if max_chars is not None and size > max_chars:
        raise TooLarge(f"the text to summarize has {size:,} characters, over the limit of {max_chars:,}")
    return chosen


async def _units(source: SummarySource, library: Library) -> SummaryInput:
    chosen = [name for name in ("text", "document_id", "topic") if getattr(source, name) is not None]
    if len(chosen) != 1:
        raise InvalidInput("give exactly one source: text, document_id (with collection), or topic (with collection)")
    if source.text is not None:
        if not source.text.strip():
            raise InvalidInput("text is empty")
        return SummaryInput([Unit(source.text)], numbered=False)
    collection = source.collection
    if not collection:
        raise InvalidInput(f"{chosen[0]} needs a collection")
    if library.check_collection is not None:
        library.check_collection(collection)
    if source.document_id is not None:
        record = live_document(library.registry, collection, source.document_id)
        return SummaryInput(document_units(library.keyword.document_chunks(collection, record.document_id)), False)
    topic = (source.topic or "").strip()
    if not topic:
        raise InvalidInput("topic is empty")
    if library.search is None:
        raise InvalidInput("topic summaries need the retriever")
    retrieval = await asyncio.to_thread(library.search, collection, topic, source.top_k)
    if not retrieval.hits:
        raise NotFound(f"nothing about {topic!r} in collection {collection!r}")
    return SummaryInput(hit_units(retrieval.hits), numbered=True)
