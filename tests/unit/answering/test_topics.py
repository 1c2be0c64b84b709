"""Unanswered questions grouped by topic: near questions share a topic, the biggest topic comes first, and a
topic's examples are distinct questions, the most typical first."""

from __future__ import annotations

import numpy as np

from rag.answering.topics import MAX_EXAMPLES, group_by_topic


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_close_questions_share_a_topic_and_the_most_asked_topic_comes_first() -> None:
    questions = ["parking?", "cafeteria?", "where to park?", "visitor parking?", "lunch menu?"]
    vectors = np.stack([_unit(1, 0.1, 0), _unit(0, 1, 0.1), _unit(1, 0.2, 0), _unit(0.9, 0, 0.1), _unit(0.1, 1, 0)])
    topics = group_by_topic(questions, vectors)
    assert [t.count for t in topics] == [3, 2]
    assert set(topics[0].examples) == {"parking?", "where to park?", "visitor parking?"}
    assert set(topics[1].examples) == {"cafeteria?", "lunch menu?"}


def test_unrelated_questions_stay_apart_and_repeats_show_once_among_the_examples() -> None:
    questions = ["a"] * 8 + ["b"]
    vectors = np.stack([_unit(1, 0, 0)] * 8 + [_unit(0, 0, 1)])
    topics = group_by_topic(questions, vectors)
    assert [(t.count, t.examples) for t in topics] == [(8, ["a"]), (1, ["b"])]
    many = [f"q{i}" for i in range(20)]
    assert len(group_by_topic(many, np.stack([_unit(1, 0, 0)] * 20))[0].examples) == MAX_EXAMPLES
