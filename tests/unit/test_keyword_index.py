"""The FTS5 keyword index: bm25 ranking, atomic replacement, filters, and visibility across processes."""

from __future__ import annotations

from pathlib import Path

from rag.keyword import KeywordIndex, match_expression
from rag.models import Chunk


def chunks(doc: str, version: str, texts: list[str], **meta: object) -> list[Chunk]:
    return [
        Chunk(f"{doc}#{version}#{i}", doc, "c1", t, {"document_id": doc, "filename": f"{doc}.txt", **meta})
        for i, t in enumerate(texts)
    ]


def test_bm25_ranks_the_matching_chunk_first(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path / "k.sqlite")
    index.replace_document("c1", "a", "v1", chunks("a", "v1", ["the battery charges in four hours", "hello"]))
    index.replace_document("c1", "b", "v1", chunks("b", "v1", ["the brush is cleaned weekly"]))
    hits = index.search("c1", "How long does the battery take to charge?", 5)
    assert hits[0].chunk_id == "a#v1#0"
    assert hits[0].score > 0


def test_replacing_a_document_leaves_only_the_new_version(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path / "k.sqlite")
    index.replace_document("c1", "a", "v1", chunks("a", "v1", ["old wording about pumpkins"]))
    index.replace_document("c1", "a", "v2", chunks("a", "v2", ["new wording about zucchini"]))
    assert index.search("c1", "pumpkins", 5) == []
    assert [h.chunk_id for h in index.search("c1", "zucchini", 5)] == ["a#v2#0"]
    assert index.live("c1", ["a#v1#0", "a#v2#0"]) == {"a#v2#0"}
    assert index.document_version("c1", "a") == "v2"


def test_delete_document_and_collection(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path / "k.sqlite")
    index.replace_document("c1", "a", "v1", chunks("a", "v1", ["apples"]))
    index.replace_document("c1", "b", "v1", chunks("b", "v1", ["apples too"]))
    index.delete_document("c1", "a")
    assert [h.document_id for h in index.search("c1", "apples", 5)] == ["b"]
    index.delete_collection("c1")
    assert index.search("c1", "apples", 5) == [] and index.count("c1") == 0


def test_filters_on_any_metadata_key(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path / "k.sqlite")
    index.replace_document("c1", "a", "v1", chunks("a", "v1", ["robot manual"], team="hw"))
    index.replace_document("c1", "b", "v1", chunks("b", "v1", ["robot policy"], team="hr"))
    assert [h.document_id for h in index.search("c1", "robot", 5, {"team": "hr"})] == ["b"]
    assert {h.document_id for h in index.search("c1", "robot", 5, {"filename": ["a.txt", "b.txt"]})} == {"a", "b"}


def test_writes_of_another_process_are_visible_without_reopening(tmp_path: Path) -> None:
    reader = KeywordIndex(tmp_path / "k.sqlite")
    assert reader.search("c1", "kiwi", 5) == []
    writer = KeywordIndex(tmp_path / "k.sqlite")  # a separate connection, as a CLI process would have
    writer.replace_document("c1", "a", "v1", chunks("a", "v1", ["kiwi"]))
    assert [h.document_id for h in reader.search("c1", "kiwi", 5)] == ["a"]


def test_fts_syntax_in_queries_is_treated_as_words() -> None:
    assert match_expression('NEAR(a b) OR "x" AND -y*') == '"near" OR "a" OR "b" OR "or" OR "x" OR "and" OR "y"'
    assert match_expression("?!") is None
