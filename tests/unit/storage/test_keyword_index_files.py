"""The keyword index at scale: a bulk load in bounded slices and an index saved to files and reopened
memory-mapped must rank exactly as the index built in one pass does, before and after later changes."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from rag.retrieval import bm25
from rag.retrieval.bm25 import Bm25Index
from rag.retrieval.bm25_file import load_index, save_index
from rag.retrieval.keyword import KeywordIndex
from rag.storage.chunks.sqlite import SqliteKeywordStore
from rag.storage.chunks.types import KeywordStore
from rag.text.analyzer import Analyzer
from rag.types import Chunk

WORDS = "alpha beta gamma delta pump valve leave annual password reset printer error code the of and".split()
QUERIES = ["pump valve", "annual leave", "password reset error", "the", "gamma delta alpha", "printer"]


def corpus(documents: int = 12, per_document: int = 5, seed: int = 3) -> list[tuple[str, list[tuple[int, str, str]]]]:
    rng = np.random.default_rng(seed)
    rowid, docs = 0, []
    for d in range(documents):
        rows = []
        for i in range(per_document):
            rowid += 1
            text = " ".join(rng.choice(WORDS, int(rng.integers(3, 30))))
            rows.append((rowid, f"doc{d}#{i}", text))
        docs.append((f"doc{d}", rows))
    return docs


def reference_scores(docs: list[tuple[str, list[tuple[int, str, str]]]], query: str) -> dict[str, float]:
    """Lucene BM25 written out plainly: what the index must compute."""
    analyzer = Analyzer()
    terms = {cid: Counter(analyzer.stems([w.lower() for w in bm25.WORD.findall(text)])) for _, rows in docs
             for _, cid, text in rows}  # fmt: skip
    n, average = len(terms), sum(sum(c.values()) for c in terms.values()) / len(terms)
    scores = dict.fromkeys(terms, 0.0)
    for term in analyzer.query_terms(query):
        df = sum(1 for c in terms.values() if term in c)
        idf = math.log1p((n - df + 0.5) / (df + 0.5))
        for cid, counts in terms.items():
            tf, length = counts.get(term, 0), sum(counts.values())
            scores[cid] += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / average)) if tf else 0.0
    return scores


def all_scores(index: Bm25Index, query: str) -> dict[str, float]:
    found = index.score(query)
    return {cid: found.of(cid) for cid in found.slot_of}


def test_a_bulk_load_in_slices_ranks_exactly_as_one_pass_and_as_plain_bm25(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = corpus()
    whole = Bm25Index()
    whole.add_many(docs)
    monkeypatch.setattr(bm25, "_SLICE_ROWS", 7)  # a dozen slices, documents never split between two
    sliced = Bm25Index()
    sliced.add_many(iter(docs))
    for query in QUERIES:
        assert all_scores(sliced, query) == all_scores(whole, query)
        assert sliced.search(query, 10) == whole.search(query, 10)
        reference = reference_scores(docs, query)
        assert all_scores(sliced, query) == pytest.approx(reference, rel=1e-5, abs=1e-6)
    assert sliced.chunk_terms(["doc3#1", "doc9#4"]) == whole.chunk_terms(["doc3#1", "doc9#4"])


def test_a_saved_index_reopens_ranking_exactly_the_same_and_takes_changes(tmp_path: Path) -> None:
    docs = corpus()
    built = Bm25Index()
    built.add_many(docs[:8])
    built.add_many(docs[8:])  # two blocks: the file holds them as one
    built.remove("doc2")  # a dead slot travels too
    save_index(built, tmp_path / "index", latest=42)
    opened, latest = load_index(tmp_path / "index", Analyzer())  # type: ignore[misc]
    assert latest == 42 and len(opened) == len(built)
    for query in QUERIES:
        assert all_scores(opened, query) == all_scores(built, query)
        assert opened.search(query, 10) == built.search(query, 10)
        assert opened.term_counts(query) == built.term_counts(query)
    assert opened.chunk_terms(["doc3#1", "doc2#0"]) == built.chunk_terms(["doc3#1", "doc2#0"])
    # Later changes land on the mapped arrays as they would on the built index.
    for index in (built, opened):
        index.add("doc5", [(900, "doc5#new", "pump pump valve annual")])
        index.remove("doc7")
        index.add("doc2", docs[2][1])
    for query in QUERIES:
        assert all_scores(opened, query) == all_scores(built, query)
    assert load_index(tmp_path / "missing", Analyzer()) is None


def chunks(document: str, texts: list[str]) -> list[Chunk]:
    return [Chunk(f"{document}#{i}", document, "c", t, {"document_id": document}) for i, t in enumerate(texts)]


@pytest.fixture(params=["sqlite", "postgres"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], KeywordStore]]:
    """Opens the same chunk rows again each call, as another process would."""
    if request.param == "sqlite":
        yield lambda: SqliteKeywordStore(tmp_path / "k.sqlite")
        return
    from rag.storage.chunks.postgres import PostgresKeywordStore
    from rag.storage.engine import Database

    url, opened = request.getfixturevalue("database_url"), []

    def new() -> KeywordStore:
        opened.append(Database(url))
        opened[-1].migrate()
        return PostgresKeywordStore(opened[-1])

    yield new
    for database in opened:
        database.close()


def test_a_restarted_process_opens_the_saved_index_and_catches_up_with_the_rows(
    tmp_path: Path, new_store: Callable[[], KeywordStore]
) -> None:
    files = tmp_path / "keyword_index"
    writer = KeywordIndex(new_store(), files, save_from=1)
    for d, rows in corpus(6, 4):
        writer.replace_document("c", d, "v1", chunks(d, [text for _, _, text in rows]))
    assert writer.ranked("c", "pump valve", 5)  # the first search builds the index and saves it
    assert any(files.iterdir())
    # Meanwhile (the server is down) the rows change: an update, a deletion, a new document.
    writer.replace_document("c", "doc1", "v2", chunks("doc1", ["pump valve pump", "annual leave"]))
    writer.delete_document("c", "doc4")
    writer.replace_document("c", "doc9", "v1", chunks("doc9", ["password reset for the printer"]))
    restarted = KeywordIndex(new_store(), files, save_from=1)
    fresh = KeywordIndex(new_store())  # no files: built from the rows
    for query in QUERIES:
        assert restarted.ranked("c", query, 10) == fresh.ranked("c", query, 10)
    assert restarted.count("c") == len(restarted._bm25("c"))
    restarted.delete_collection("c")  # its saved files go with it
    assert not any(files.iterdir())
    assert KeywordIndex(new_store(), files, save_from=1).ranked("c", "pump", 5) == []


def test_a_saved_index_that_does_not_match_the_rows_is_rebuilt(tmp_path: Path) -> None:
    files = tmp_path / "keyword_index"
    old = KeywordIndex(SqliteKeywordStore(tmp_path / "old.sqlite"), files, save_from=1)
    old.replace_document("c", "a", "v1", chunks("a", ["pump valve", "annual leave", "printer error"]))
    assert old.ranked("c", "pump", 5)
    # Another database under the same data dir, its change log at the same position: the files are not its.
    other = KeywordIndex(SqliteKeywordStore(tmp_path / "new.sqlite"), files, save_from=1)
    other.replace_document("c", "b", "v1", chunks("b", ["password reset"]))
    assert other.ranked("c", "pump", 5) == []
    assert [cid for cid, _ in other.ranked("c", "password", 5)] == ["b#0"]
