"""Pure logic of retrieval evaluation: BEIR loading checks, collection names, document text."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import InvalidInput
from rag.evaluation.retrieval import best_chunk_per_document, default_collection_name, document_text, load_beir
from rag.validation import check_collection_name


@pytest.mark.parametrize(
    ("folder", "expected"), [("scifact", "beir-scifact"), ("My Data!!", "beir-My-Data"), ("..", "beir-dataset")]
)
def test_default_collection_name_follows_the_naming_rules(tmp_path: Path, folder: str, expected: str) -> None:
    directory = tmp_path / "x" / folder if folder != ".." else Path("/")
    name = default_collection_name(directory)
    assert check_collection_name(name) == name and name == expected


def test_document_text_indexes_title_and_text() -> None:
    assert document_text({"title": "Kayaks", "text": "They float."}) == "Kayaks\n\nThey float."
    assert document_text({"title": "", "text": "They float."}) == "They float."


def test_best_chunk_per_document_keeps_each_documents_first_rank() -> None:
    run = best_chunk_per_document([("a", 0.9), ("b", 0.8), ("a", 0.7), ("c", 0.1)])
    assert sorted(run, key=run.__getitem__, reverse=True) == ["a", "b", "c"]


def test_malformed_corpus_and_scores_are_refused(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "x"}\n')
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\thigh\n")
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "text": "x"}\nnot json\n')
    with pytest.raises(InvalidInput, match="corpus.jsonl:2"):
        load_beir(tmp_path)
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "text": "x"}\n')
    with pytest.raises(InvalidInput, match="test.tsv:2"):
        load_beir(tmp_path)
