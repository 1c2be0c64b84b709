"""What a summary reads, chosen in one place for `POST /v1/summarize` and `rag summarize`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rag.answering.summary_sources import Library, SummarySource, summary_input
from rag.errors import InvalidInput, NotFound, TooLarge
from rag.retrieval.hybrid import Retrieval
from rag.types import Chunk, SearchHit


class Registry:
    def __init__(self, live: set[str], pending: frozenset[str] = frozenset()) -> None:
        self.live, self.pending = live, pending

    def get(self, collection: str, document_id: str) -> Any:
        if document_id in self.live:
            return type("Record", (), {"document_id": document_id, "version": "v1"})()
        if document_id in self.pending:  # a first version still being written
            return type("Record", (), {"document_id": document_id, "version": None})()
        return None


class Keyword:
    def document_chunks(self, collection: str, document_id: str) -> list[Chunk]:
        return [Chunk(f"{document_id}#{i}", document_id, collection, f"part {i}", {"page": i + 1}) for i in range(2)]


def search(collection: str, query: str, top_k: int) -> Retrieval:
    hits = [SearchHit("c1", "a.txt", "a.txt", None, f"about {query}", 1.0)] if query == "boats" else []
    return Retrieval(hits=hits, best_similarity=1.0)


def library(checked: list[str] | None = None) -> Library:
    check = checked.append if checked is not None else None
    return Library(Registry({"a.txt"}, frozenset({"new.txt"})), Keyword(), search, check)  # type: ignore[arg-type]


def read(source: SummarySource, max_chars: int | None = None, checked: list[str] | None = None) -> Any:
    return asyncio.run(summary_input(source, library(checked), max_chars))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (SummarySource(), "exactly one source"),
        (SummarySource(text="x", topic="y", collection="c"), "exactly one source"),
        (SummarySource(text="  "), "text is empty"),
        (SummarySource(document_id="a.txt"), "document_id needs a collection"),
        (SummarySource(topic=" ", collection="c"), "topic is empty"),
    ],
)
def test_a_source_that_is_not_exactly_one_usable_thing_is_refused(source: SummarySource, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        read(source)


def test_raw_text_is_one_unit_without_checking_any_collection() -> None:
    checked: list[str] = []
    chosen = read(SummarySource(text="Kayaks float.", collection="nope"), checked=checked)
    assert [u.text for u in chosen.units] == ["Kayaks float."] and not chosen.numbered and checked == []


def test_a_stored_document_is_read_chunk_by_chunk_after_the_collection_check() -> None:
    checked: list[str] = []
    chosen = read(SummarySource(document_id="a.txt", collection="boats"), checked=checked)
    assert [(u.text, u.page, u.chunk_id) for u in chosen.units] == [("part 0", 1, "a.txt#0"), ("part 1", 2, "a.txt#1")]
    assert checked == ["boats"] and not chosen.numbered


@pytest.mark.parametrize("document_id", ["missing.txt", "new.txt"])
def test_a_document_without_a_live_version_is_not_found(document_id: str) -> None:
    with pytest.raises(NotFound, match=f"document '{document_id}' not found in collection 'boats'"):
        read(SummarySource(document_id=document_id, collection="boats"))


def test_a_topic_reads_what_retrieval_finds_as_numbered_sources() -> None:
    chosen = read(SummarySource(topic=" boats ", collection="c"))
    assert [u.text for u in chosen.units] == ["about boats"] and chosen.numbered
    with pytest.raises(NotFound, match="nothing about 'planes'"):
        read(SummarySource(topic="planes", collection="c"))


def test_input_over_the_limit_is_refused() -> None:
    assert read(SummarySource(text="x" * 10), max_chars=10).units
    with pytest.raises(TooLarge, match="11 characters, over the limit of 10"):
        read(SummarySource(text="x" * 11), max_chars=10)
