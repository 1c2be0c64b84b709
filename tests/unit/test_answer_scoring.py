"""Pure logic behind answer evaluation, collection questions and the answerability vocabulary test."""

from __future__ import annotations

import pytest

from rag.answering.answerability import is_common_word
from rag.answering.overview import is_collection_question
from rag.evaluation.answers import QARecord, cited_numbers, is_gold, numbers_match, score_record, summarize, token_f1


def test_token_f1_ignores_stop_words_markers_and_ligatures() -> None:
    assert token_f1("The ﬁle is written [1].", "file written") == 1.0
    assert token_f1("Nothing related here.", "file written") == 0.0
    assert 0 < token_f1("The file is kept.", "file written") < 1


def test_numbers_must_all_appear_thousand_separators_aside() -> None:
    assert numbers_match("It defaults to 10,000 locations; at most 100000.", "10000 locations, maximum 100000")
    assert not numbers_match("It defaults to 10000.", "10000 locations, maximum 100000")


def test_citations_are_read_from_markers_and_matched_by_file_and_page() -> None:
    assert cited_numbers("A [2]. B [1][2]. C [3].") == [2, 1, 3]
    assert is_gold(("a.pdf", 3), [("a.pdf", 3)]) and not is_gold(("a.pdf", 4), [("a.pdf", 3)])
    assert is_gold(("notes.md", None), [("notes.md", None)])


def record(rid: str, answerable: bool, answer: str, abstained: bool = False) -> QARecord:
    gold = [("a.pdf", 2)] if answerable else []
    sources = [{"n": 1, "document": "a.pdf", "page": 2, "chunk_id": "c1", "text": "x"},
               {"n": 2, "document": "a.pdf", "page": 9, "chunk_id": "c2", "text": "y"}]  # fmt: skip
    return QARecord(rid, "q", answerable, gold, "25 days" if answerable else None, answer, abstained,
                    None, sources, [("a.pdf", 2)], 0.1, 0.2, grounding={"sentences": 2, "supported": 1},
                    evidence="Staff get 25 days of annual leave." if answerable else None)  # fmt: skip


def test_summary_counts_abstention_precision_and_coverage() -> None:
    records = [
        record("1", True, "You get 25 days [1]. Also this [2]."),
        record("2", True, "Unknown [2]."),
        record("3", False, "I cannot answer.", abstained=True),
        record("4", False, "Invented [1]."),
    ]
    for r in records:
        score_record(r)
    summary = summarize(records)
    assert summary["abstention"] == 0.5 and summary["false_abstention"] == 0.0
    assert summary["citations"] == 3 and summary["citation_precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert summary["citation_coverage"] == 0.5 and summary["numbers_ok"] == 0.5 and summary["hit@1"] == 1.0
    assert summary["supported_sentences"] == 0.5
    # "You get 25 days [1]. Also this [2]." holds get/days of get/staff/days/annual/leave: not half
    assert summary["evidence_answers"] == 0.0 and summary["median_answer_words"] == 3.5


def test_an_evidence_answer_restates_half_the_passage_and_abstaining_is_a_miss() -> None:
    held = record("1", True, "Staff get 25 days of annual leave [1].")
    abstained = record("2", True, "Staff get 25 days of annual leave.", abstained=True)
    for r in (held, abstained):
        score_record(r)
    assert held.verdicts["evidence"] is True and abstained.verdicts["evidence"] is False
    assert held.verdicts["words"] == 7 and "words" not in abstained.verdicts


@pytest.mark.parametrize(
    ("question", "about_collection"),
    [
        ("What are these documents about?", True),
        ("Which documents do you have?", True),
        ("what is in this collection", True),
        ("What are the documents required for a visa?", False),
        ("Which files does bash read at startup?", False),
    ],
)
def test_questions_about_the_collection_itself_are_told_apart(question: str, about_collection: bool) -> None:
    assert is_collection_question(question) is about_collection


def test_common_words_are_whole_vocabulary_entries_names_are_not(embedder) -> None:  # type: ignore[no-untyped-def]
    for word in ("idle", "squashed", "tolerance"):
        assert is_common_word(word, embedder.tokenize)
    for word in ("ggplot2", "tlmgr", "frescobaldi"):
        assert not is_common_word(word, embedder.tokenize)
