"""Late interaction: MaxSim scoring, rank fusion with the first stage, and token vectors encoded once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.retrieval.late_interaction import TokenVectors, fuse, maxsim


def unit(*rows: Sequence[float]) -> np.ndarray:
    matrix = np.array(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_maxsim_rewards_a_chunk_holding_every_question_token_over_one_holding_a_few() -> None:
    question = unit([1, 0, 0], [0, 1, 0])
    assert maxsim(question, unit([1, 0, 0], [0, 1, 0], [0, 0, 1])) == 1.0
    assert maxsim(question, unit([1, 0, 0], [0, 0, 1])) == 0.5
    assert maxsim(question, np.zeros((0, 3), dtype=np.float32)) == 0.0


def test_fusion_lifts_what_both_orders_put_high_and_ties_keep_the_first_stage_order() -> None:
    assert fuse(["a", "b", "c"], {"a": 0.1, "b": 0.9, "c": 0.2}) == ["b", "a", "c"]  # b: ranks 2 and 1, a: 1 and 3
    assert fuse(["a", "b", "c"], {"a": 0.9, "b": 0.5, "c": 0.1}) == ["a", "b", "c"]
    assert fuse(["a", "b"], {"a": 0.5, "b": 0.5}) == ["a", "b"]


def test_token_vectors_encode_each_text_once_within_their_bound() -> None:
    calls: list[list[str]] = []

    def encode(texts: Sequence[str]) -> list[np.ndarray]:
        calls.append(list(texts))
        return [unit([len(t), 1.0]) for t in texts]

    tokens = TokenVectors(encode, size=2)
    first = tokens.of(["alpha", "beta"])
    again = tokens.of(["beta", "alpha"])
    assert calls == [["alpha", "beta"]]
    assert np.allclose(again[1], first[0], atol=1e-3)  # kept as float16
    tokens.of(["gamma"])  # the least recently used (beta, asked before alpha) makes room
    tokens.of(["alpha"])
    tokens.of(["beta"])
    assert calls[1:] == [["gamma"], ["beta"]]
