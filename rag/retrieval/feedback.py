"""Pseudo-relevance feedback: the first results tell the query what it forgot to say.

RM3 (Lavrenko & Croft's relevance model, as Anserini runs it) adds the terms that weigh most in the top
keyword-ranked chunks to the BM25 query; Rocchio moves the query vector towards the mean of the top chunks'
vectors (vector PRF, as Pyserini runs it for dense retrievers). Both only need what the index already holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FEEDBACK_CHUNKS = 10  # RM3: chunks read for expansion terms (Anserini's fbDocs)
EXPANSION_TERMS = 10  # RM3: terms added (Anserini's fbTerms)
ORIGINAL_WEIGHT = 0.5  # RM3: the original query's share of the expanded one (Anserini's originalQueryWeight)
PRF_CHUNKS = 3  # Rocchio: top chunks averaged into the query vector
PRF_WEIGHT = 0.5  # Rocchio: their mean's weight against the query's (1.0)


def rm3_weights(
    query_terms: Sequence[int], feedback: Sequence[tuple[dict[int, float], float]], stop_terms: set[int]
) -> dict[int, float]:
    """Term weights of the expanded query: ORIGINAL_WEIGHT × the query's own terms (uniform), the rest spread
    over the EXPANSION_TERMS terms most likely in the feedback chunks, P(t|R) = Σ_d P(t|d) × P(d|q), with each
    chunk's P(d|q) its normalised score. `feedback` holds each chunk's term counts and score."""
    relevance: dict[int, float] = {}
    total_score = sum(score for _, score in feedback) or 1.0
    for counts, score in feedback:
        length = sum(counts.values()) or 1.0
        for term, tf in counts.items():
            if term not in stop_terms:
                relevance[term] = relevance.get(term, 0.0) + (tf / length) * (score / total_score)
    expansion = dict(sorted(relevance.items(), key=lambda item: item[1], reverse=True)[:EXPANSION_TERMS])
    mass = sum(expansion.values()) or 1.0
    weights = {term: (1 - ORIGINAL_WEIGHT) * weight / mass for term, weight in expansion.items()}
    for term in dict.fromkeys(query_terms):
        weights[term] = weights.get(term, 0.0) + ORIGINAL_WEIGHT / len(set(query_terms))
    return weights


def rocchio(vector: np.ndarray, feedback: Sequence[np.ndarray]) -> np.ndarray:
    """The query vector moved towards the mean of the feedback vectors, unit length again."""
    if not feedback:
        return vector
    moved = vector + PRF_WEIGHT * np.mean(np.stack(feedback), axis=0)
    norm = float(np.linalg.norm(moved))
    return (moved / norm).astype(np.float32) if norm > 0 else vector
