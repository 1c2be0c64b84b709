"""Search steps as pure logic: RM3 term weights, Rocchio, near-duplicates, step and configuration names."""

from __future__ import annotations

import numpy as np
import pytest

from rag.errors import InvalidInput
from rag.evaluation.configs import parse_config
from rag.evaluation.search import first_gold_rank
from rag.retrieval.duplicates import collapse, jaccard, shingles
from rag.retrieval.feedback import ORIGINAL_WEIGHT, rm3_weights, rocchio
from rag.retrieval.rerank import Candidate
from rag.retrieval.steps import check_steps


def test_rm3_keeps_the_query_and_adds_what_the_top_results_share() -> None:
    feedback = [({1: 2.0, 7: 3.0, 9: 5.0}, 2.0), ({7: 4.0, 9: 1.0, 8: 1.0}, 1.0)]
    weights = rm3_weights([1], feedback, stop_terms={9})
    assert 9 not in weights  # a stop word is never added
    assert weights[1] > ORIGINAL_WEIGHT  # the query's own term, also found in the feedback
    assert weights[7] > weights[8] > 0  # in both results and more often: weighs more
    assert sum(weights.values()) == pytest.approx(1.0)


def test_rocchio_moves_the_query_towards_the_feedback_and_stays_unit_length() -> None:
    query, doc = np.array([1.0, 0.0], dtype=np.float32), np.array([0.0, 1.0], dtype=np.float32)
    moved = rocchio(query, [doc])
    assert np.linalg.norm(moved) == pytest.approx(1.0) and 0 < moved[1] < moved[0]
    assert rocchio(query, []) is query


def _candidate(chunk_id: str, text: str, section: str) -> Candidate:
    return Candidate(chunk_id, text, {"section": section, "filename": "manual.pdf"})


def test_of_two_near_duplicates_the_one_whose_heading_matches_the_question_takes_the_better_place() -> None:
    text = "The --verbose option prints every step it takes and the files it reads while it runs. " * 3
    ranked = [
        (_candidate("a", text, "R CMD options"), 0.9),
        (_candidate("b", "Something else entirely about printing pages and paper sizes.", "Paper"), 0.8),
        (_candidate("c", text + " Also here.", "convert-ly options"), 0.7),
    ]
    terms = lambda t: t.lower().replace("-", " ").split()  # noqa: E731
    merged = collapse(ranked, {"convert", "ly", "verbose"}, terms)
    assert [(c.chunk_id, s) for c, s in merged] == [("c", 0.9), ("b", 0.8)]
    assert [c.chunk_id for c, _ in collapse(ranked, {"verbose"}, terms)] == ["a", "b"]  # a tie: the first stays
    assert jaccard(shingles("one two three four"), shingles("five six seven eight")) == 0.0


def test_step_and_configuration_names_are_checked() -> None:
    assert check_steps(["vector-prf", " dedupe", "vector-prf", ""]) == ["vector-prf", "dedupe"]
    with pytest.raises(InvalidInput, match="unknown search step 'magic'"):
        check_steps(["magic"])
    config = parse_config("hybrid+vector-prf+dedupe", None)
    assert (config.base, config.steps) == ("hybrid", ("vector-prf", "dedupe"))
    for bad in ("rrf+dedupe", "cross-encoder", "fancy"):
        with pytest.raises(InvalidInput):
            parse_config(bad, None)


def test_the_first_gold_rank_counts_pages_and_files_without_pages() -> None:
    pages = [("a.pdf", 3), ("a.pdf", 4), ("b.md", None)]
    assert first_gold_rank(pages, [("a.pdf", 4)]) == 2
    assert first_gold_rank(pages, [("b.md", None)]) == 3
    assert first_gold_rank(pages, [("c.pdf", 1)]) is None
