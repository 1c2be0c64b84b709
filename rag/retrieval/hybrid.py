"""Hybrid retrieval: dense (Chroma) and keyword (FTS5) candidates, fused, deduplicated, re-ranked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rag.retrieval.bm25 import Scores
from rag.retrieval.components import Components
from rag.retrieval.rerank import Candidate, Reranker
from rag.retrieval.state import SearchState
from rag.retrieval.steps import check_steps, run_steps
from rag.telemetry import stage
from rag.types import SearchHit
from rag.validation import check_filters

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
    def __init__(self, components: Components, reranker: Reranker, steps: Sequence[str] | None = None) -> None:
        """`steps` run after the re-rank (rag/retrieval/steps.py); None: RAG_SEARCH_STEPS."""
        self.components = components
        self.reranker = reranker
        self.steps = check_steps(components.settings.search_steps.split(",") if steps is None else steps)

    def candidates(
        self, collection: str, query: str, filters: dict[str, Any] | None = None, dense_scores: bool = False
    ) -> tuple[list[Candidate], Scores, np.ndarray]:
        """Dense and keyword candidates fused by rank, every chunk's bm25 score, and the query vector.
        `dense_scores`: also give the keyword candidates their dense score (what the hybrid re-rank needs)."""
        filters = check_filters(filters)  # before Chroma or SQLite see them
        limit = self.components.settings.candidates
        keyword = self.components.keyword
        # Keyword scoring needs no embedding: it runs here while the query encoder's thread embeds, and so does
        # reading the keyword candidates' stored vectors (at 100k chunks this took 4 ms off a 28 ms search). All of
        # them are read, also those the dense search will return with a score: which those are is not known yet.
        vector_future = self.components.embedder.submit_query(query)
        bm25 = keyword.scores(collection, query, filters)
        top_keyword = bm25.top(limit)
        stored = self.components.store.embeddings(collection, [cid for cid, _ in top_keyword]) if dense_scores else {}
        vector = vector_future.result()
        among = keyword.scope_chunk_ids(collection)  # None without a document scope
        dense = self.components.store.query(collection, vector, limit, filters, metadata=False, among=among)
        # The keyword index holds live versions only: dense hits of a version that is not live
        # (mid-replacement or crashed) are dropped here.
        dense = [h for h in dense if bm25.has(h.chunk_id)]

        by_id: dict[str, Candidate] = {}
        for hit in dense:
            by_id[hit.chunk_id] = Candidate(hit.chunk_id, dense_score=hit.similarity)
        for chunk_id, score in top_keyword:
            candidate = by_id.setdefault(chunk_id, Candidate(chunk_id))
            candidate.keyword_score = score
            if candidate.dense_score is None and chunk_id in stored:
                candidate.dense_score = float(np.dot(stored[chunk_id], vector))
        fused = fuse_rankings([[h.chunk_id for h in dense], [chunk_id for chunk_id, _ in top_keyword]])
        for chunk_id, candidate in by_id.items():
            candidate.fused_score = fused.get(chunk_id, 0.0)
        return sorted(by_id.values(), key=lambda c: c.fused_score, reverse=True), bm25, vector

    def fill_scores(self, collection: str, vector: np.ndarray, bm25: Scores, candidates: list[Candidate]) -> None:
        """Give every candidate both raw scores: stored vectors for dense, the query's bm25 scores for keyword."""
        missing_dense = [c.chunk_id for c in candidates if c.dense_score is None]
        vectors = self.components.store.embeddings(collection, missing_dense) if missing_dense else {}
        for c in candidates:
            if c.dense_score is None and c.chunk_id in vectors:
                c.dense_score = float(np.dot(vectors[c.chunk_id], vector))
            if c.keyword_score is None:
                c.keyword_score = bm25.of(c.chunk_id)

    def fill_text(self, collection: str, candidates: list[Candidate]) -> list[Candidate]:
        """Read text and metadata, only for the candidates that need them (reading rows is a search's
        biggest cost after the query embedding); drops any deleted meanwhile."""
        rows = self.components.keyword.fetch(collection, [c.chunk_id for c in candidates if not c.metadata])
        for c in candidates:
            if c.chunk_id in rows:
                c.text, c.metadata = rows[c.chunk_id].text, rows[c.chunk_id].metadata
        return [c for c in candidates if c.metadata]

    def search(
        self,
        collection: str,
        query: str,
        top_k: int = 5,
        filters: dict[str, Any] | None = None,
        rerank: bool = True,
    ) -> Retrieval:
        with stage("retrieve", collection=collection, top_k=top_k):
            return self._search(collection, query, top_k, filters, rerank)

    def _search(
        self, collection: str, query: str, top_k: int, filters: dict[str, Any] | None, rerank: bool
    ) -> Retrieval:
        scored = rerank and self.reranker.needs_scores
        candidates, bm25, vector = self.candidates(collection, query, filters, dense_scores=scored)
        best = max((c.dense_score for c in candidates if c.dense_score is not None), default=0.0)
        if rerank and candidates:
            if scored:
                self.fill_scores(collection, vector, bm25, candidates)
            if self.reranker.needs_text:
                candidates = self.fill_text(collection, candidates)
            with stage("rerank", candidates=len(candidates)):
                ranked = self.reranker.rerank(query, candidates)
                if self.steps:
                    ranked = self._run_steps(SearchState(collection, query, filters, vector, bm25, candidates, ranked))
        else:
            ranked = [(c, c.fused_score) for c in candidates]
        scores = {c.chunk_id: score for c, score in ranked[:top_k]}
        hits = [to_hit(c, scores[c.chunk_id]) for c in self.fill_text(collection, [c for c, _ in ranked[:top_k]])]
        return Retrieval(hits, best, candidates)

    def _run_steps(self, state: SearchState) -> list[tuple[Candidate, float]]:
        """The order after the search steps. They work on copies of the candidates: the answerability judge reads
        the first-stage scores (Retrieval.candidates), which is what it was fitted on."""
        copies = {c.chunk_id: replace(c) for c in state.candidates}
        state.candidates = list(copies.values())
        state.ranked = [(copies[c.chunk_id], score) for c, score in state.ranked]
        run_steps(self, state, self.steps)
        return state.ranked


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
