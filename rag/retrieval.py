"""Hybrid retrieval: dense (Chroma) and keyword (FTS5) candidates, fused, deduplicated, re-ranked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.components import Components
from rag.models import SearchHit
from rag.rerank import Candidate, Reranker

RRF_K = 60


def fuse_rankings(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal rank fusion: each list adds 1 / (k + rank) for the ids it holds."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


@dataclass
class Retrieval:
    """What a search found, with what the answer step needs to decide whether to abstain."""

    hits: list[SearchHit]
    best_similarity: float  # best dense cosine similarity among the candidates
    candidates: list[Candidate] = field(default_factory=list)


class Retriever:
    def __init__(self, components: Components, reranker: Reranker) -> None:
        self.components = components
        self.reranker = reranker

    def candidates(
        self, collection: str, query: str, vector: np.ndarray, filters: dict[str, Any] | None = None
    ) -> list[Candidate]:
        """Dense and keyword candidates, fused by rank, each carrying both raw scores when known."""
        limit = self.components.settings.candidates
        dense = self.components.store.query(collection, vector, limit, filters)
        # Dense hits of a version that is not live (mid-replacement or crashed) are never shown.
        live = self.components.keyword.live(collection, [h.chunk_id for h in dense])
        dense = [h for h in dense if h.chunk_id in live]
        keyword = self.components.keyword.search(collection, query, limit, filters)

        by_id: dict[str, Candidate] = {}
        for hit in dense:
            by_id[hit.chunk_id] = Candidate(hit.chunk_id, hit.text, hit.metadata, dense_score=hit.similarity)
        for hit in keyword:
            found = by_id.setdefault(hit.chunk_id, Candidate(hit.chunk_id, hit.text, hit.metadata))
            found.keyword_score = hit.score
        fused = fuse_rankings([[h.chunk_id for h in dense], [h.chunk_id for h in keyword]])
        for chunk_id, score in fused.items():
            by_id[chunk_id].fused_score = score
        return sorted(by_id.values(), key=lambda c: c.fused_score, reverse=True)

    def fill_scores(self, collection: str, query: str, vector: np.ndarray, candidates: list[Candidate]) -> None:
        """Give every candidate both raw scores: stored vectors for dense, bm25 over the ids for keyword."""
        missing_dense = [c.chunk_id for c in candidates if c.dense_score is None]
        if missing_dense:
            vectors = self.components.store.embeddings(collection, missing_dense)
            for c in candidates:
                if c.chunk_id in vectors:
                    c.dense_score = float(np.dot(vectors[c.chunk_id], vector))
        missing_keyword = [c.chunk_id for c in candidates if c.keyword_score is None]
        if missing_keyword:
            scores = self.components.keyword.scores(collection, query, missing_keyword)
            for c in candidates:
                if c.keyword_score is None:
                    c.keyword_score = scores.get(c.chunk_id, 0.0)

    def search(
        self,
        collection: str,
        query: str,
        top_k: int = 5,
        filters: dict[str, Any] | None = None,
        rerank: bool = True,
    ) -> Retrieval:
        vector = self.components.embedder.embed_query(query)
        candidates = self.candidates(collection, query, vector, filters)
        best = max((c.dense_score for c in candidates if c.dense_score is not None), default=0.0)
        if rerank and candidates:
            if self.reranker.needs_scores:
                self.fill_scores(collection, query, vector, candidates)
            ranked = self.reranker.rerank(query, candidates)
        else:
            ranked = [(c, c.fused_score) for c in candidates]
        hits = [to_hit(c, score) for c, score in ranked[:top_k]]
        return Retrieval(hits, best, candidates)


def to_hit(candidate: Candidate, score: float) -> SearchHit:
    meta = candidate.metadata
    page = meta.get("page")
    return SearchHit(
        chunk_id=candidate.chunk_id,
        document_id=str(meta.get("document_id", "")),
        filename=str(meta.get("filename", "")),
        page=int(page) if page is not None else None,
        text=candidate.text,
        score=float(score),
        metadata=meta,
    )
