"""The keyword index: BM25 ranking, atomic replacement, filters, and visibility across processes;
on both engines (SQLite in the data dir, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rag.access import parse_where, scoped_to
from rag.retrieval.bm25 import Bm25Index
from rag.retrieval.keyword import KeywordIndex
from rag.storage.chunks.sqlite import SqliteKeywordStore
from rag.text.analyzer import Analyzer
from rag.types import Chunk

NewIndex = Callable[[], KeywordIndex]


@pytest.fixture(params=["sqlite", "postgres"])
def new_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NewIndex]:
    """Opens the same keyword index again each call, with connections of its own, as another process would."""
    if request.param == "sqlite":
        yield lambda: KeywordIndex(SqliteKeywordStore(tmp_path / "k.sqlite"))
        return
    from rag.storage.chunks.postgres import PostgresKeywordStore
    from rag.storage.engine import Database

    url = request.getfixturevalue("database_url")
    opened: list[Database] = []

    def new() -> KeywordIndex:
        opened.append(Database(url))
        opened[-1].migrate()
        return KeywordIndex(PostgresKeywordStore(opened[-1]))

    yield new
    for database in opened:
        database.close()


def chunks(doc: str, version: str, texts: list[str], **meta: object) -> list[Chunk]:
    return [
        Chunk(f"{doc}#{version}#{i}", doc, "c1", t, {"document_id": doc, "filename": f"{doc}.txt", **meta})
        for i, t in enumerate(texts)
    ]


def test_bm25_ranks_the_matching_chunk_first(new_index: NewIndex) -> None:
    index = new_index()
    index.replace_document("c1", "a", "v1", chunks("a", "v1", ["the battery charges in four hours", "hello"]))
    index.replace_document("c1", "b", "v1", chunks("b", "v1", ["the brush is cleaned weekly"]))
    hits = index.search("c1", "How long does the battery take to charge?", 5)
    assert hits[0].chunk_id == "a#v1#0"
    assert hits[0].score > 0


def test_replacing_a_document_leaves_only_the_new_version(new_index: NewIndex) -> None:
    index = new_index()
    index.replace_document("c1", "a", "v1", chunks("a", "v1", ["old wording about pumpkins"]))
    index.replace_document("c1", "a", "v2", chunks("a", "v2", ["new wording about zucchini"]))
    assert index.search("c1", "pumpkins", 5) == []
    assert [h.chunk_id for h in index.search("c1", "zucchini", 5)] == ["a#v2#0"]
    assert set(index.fetch("c1", ["a#v1#0", "a#v2#0"])) == {"a#v2#0"}
    assert index.document_version("c1", "a") == "v2"


def test_delete_document_and_collection(new_index: NewIndex) -> None:
    index = new_index()
    index.replace_document("c1", "a", "v1", chunks("a", "v1", ["apples"]))
    index.replace_document("c1", "b", "v1", chunks("b", "v1", ["apples too"]))
    index.delete_document("c1", "a")
    assert [h.document_id for h in index.search("c1", "apples", 5)] == ["b"]
    index.delete_collection("c1")
    assert index.search("c1", "apples", 5) == [] and index.count("c1") == 0


def test_filters_on_any_metadata_key(new_index: NewIndex) -> None:
    index = new_index()
    index.replace_document("c1", "a", "v1", chunks("a", "v1", ["robot manual"], team="hw"))
    index.replace_document("c1", "b", "v1", chunks("b", "v1", ["robot policy"], team="hr"))
    assert [h.document_id for h in index.search("c1", "robot", 5, {"team": "hr"})] == ["b"]
    assert {h.document_id for h in index.search("c1", "robot", 5, {"filename": ["a.txt", "b.txt"]})} == {"a", "b"}


def test_a_document_scope_keeps_every_read_to_the_documents_it_admits(new_index: NewIndex) -> None:
    """Under a key's document filter, scores, row reads, a document's chunks and each document's first chunk see
    only the admitted documents, and a later change to the collection is seen (the scope's rows are cached)."""
    index = new_index()
    index.replace_document("c1", "a", "v1", chunks("a", "v1", ["leave policy for the hr team"], department="hr"))
    index.replace_document("c1", "b", "v1", chunks("b", "v1", ["leave policy for finance", "x"], department="fin"))
    index.replace_document("c1", "c", "v1", chunks("c", "v1", ["leave policy without a department"]))
    with scoped_to(parse_where(["department=hr,people"])):
        assert [h.document_id for h in index.search("c1", "leave policy", 10)] == ["a"]
        assert index.search("c1", "leave policy", 10, {"department": "fin"}) == []
        assert [c.document_id for c in index.first_chunks("c1", 10)] == ["a"]
        assert index.document_chunks("c1", "b") == [] and set(index.fetch("c1", ["a#v1#0", "b#v1#0"])) == {"a#v1#0"}
        index.replace_document("c1", "d", "v1", chunks("d", "v1", ["leave policy for people"], department="people"))
        assert {h.document_id for h in index.search("c1", "leave policy", 10)} == {"a", "d"}
        # what the answer gate asks ("does the collection know this word?"): hidden documents do not count
        assert index.term_counts("c1", "finance leave") == ({"financ": 0, "leav": 2}, 2)
    assert {h.document_id for h in index.search("c1", "leave policy", 10)} == {"a", "b", "c", "d"}
    assert index.term_counts("c1", "finance leave") == ({"financ": 1, "leav": 4}, 5)


def test_writes_of_another_process_are_visible_without_reopening(new_index: NewIndex) -> None:
    reader = new_index()
    assert reader.search("c1", "kiwi", 5) == []
    writer = new_index()  # a separate connection, as a CLI process would have
    writer.replace_document("c1", "a", "v1", chunks("a", "v1", ["kiwi"]))
    assert [h.document_id for h in reader.search("c1", "kiwi", 5)] == ["a"]


def test_updates_deletes_and_collection_drops_reach_a_long_lived_reader(new_index: NewIndex) -> None:
    reader = new_index()
    writer = new_index()
    writer.replace_document("c1", "a", "v1", chunks("a", "v1", ["mango sorbet"]))
    assert [h.chunk_id for h in reader.search("c1", "mango", 5)] == ["a#v1#0"]
    writer.replace_document("c1", "a", "v2", chunks("a", "v2", ["mango chutney"]))
    assert [h.chunk_id for h in reader.search("c1", "mango", 5)] == ["a#v2#0"]
    assert reader.search("c1", "sorbet", 5) == []
    writer.delete_document("c1", "a")
    assert reader.search("c1", "mango", 5) == []
    writer.replace_document("c1", "b", "v1", chunks("b", "v1", ["mango lassi"]))
    writer.delete_collection("c1")
    assert reader.search("c1", "mango", 5) == []


def test_query_syntax_is_just_words_and_stop_words_only_count_when_alone(new_index: NewIndex) -> None:
    index = new_index()
    index.replace_document("c1", "a", "v1", chunks("a", "v1", ["The Who played loudly", "near the river"]))
    assert index.search("c1", 'NEAR(a b) OR "x" AND -y*', 5)[0].chunk_id == "a#v1#1"
    assert index.search("c1", "?!", 5) == []
    assert [h.chunk_id for h in index.search("c1", "the who", 5)][0] == "a#v1#0"  # stop words, nothing else


def test_stemming_matches_word_forms() -> None:
    analyzer = Analyzer()
    assert analyzer.terms("Charging chargers charged") == analyzer.terms("charge charger charge")
    assert analyzer.query_terms("How does the battery charge?") == ["batteri", "charg"]


def test_bm25_prefers_rare_terms_and_short_chunks() -> None:
    index = Bm25Index()
    index.add_many(
        [
            ("d1", [(1, "common", "pump pump pump valve")]),
            ("d2", [(2, "rare", "pump impeller")]),
            ("d3", [(3, "long", "pump impeller " + "filler words " * 40)]),
            ("d4", [(4, "x", "pump"), (5, "y", "pump")]),
        ]
    )
    ranked = index.search("pump impeller", 10)
    assert ranked[0][0] == "rare"  # both terms, short chunk
    assert dict(ranked)["long"] < dict(ranked)["rare"]  # both terms too, but diluted
    scores = index.score("pump impeller")
    assert scores.of("rare") == ranked[0][1] and scores.of("unknown") == 0.0 and scores.has("x")
    index.remove("d2")
    assert "rare" not in [cid for cid, _ in index.search("pump impeller", 10)]
    assert not index.score("pump").has("rare")  # removed: no longer live
    assert len(index) == 4


def test_compaction_after_many_removals_keeps_results() -> None:
    index = Bm25Index()
    index.add_many([(f"d{i}", [(i, f"c{i}", f"word{i % 7} shared")]) for i in range(3000)])
    for i in range(0, 3000, 2):
        index.remove(f"d{i}")
    assert len(index) == 1500
    hits = index.search("word3", 5000)
    assert {cid for cid, _ in hits} == {f"c{i}" for i in range(1, 3000, 2) if i % 7 == 3}


def test_a_deleted_large_documents_words_leave_the_index_and_searching_them_finds_nothing() -> None:
    index = Bm25Index()
    index.add("kept", [(0, "k0", "pump impeller maintenance")])
    index.add("large", [(i + 1, f"l{i}", f"zorblax{i} quux{i % 50} pump") for i in range(2000)])
    words_with_large = len(index.vocabulary)
    index.remove("large")  # 2,000 dead slots: compacted
    assert len(index.vocabulary) < words_with_large / 10  # its 2,050 made-up words are gone
    assert index.search("zorblax7 quux3", 10) == []  # a removed word in a query: no hits (it raised IndexError)
    assert [cid for cid, _ in index.search("pump zorblax7", 10)] == ["k0"]
