"""What one search knows between its steps: the query, its vector and bm25 scores, the candidates and their order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from rag.retrieval.bm25 import Scores
from rag.retrieval.components import Components
from rag.retrieval.rerank import Candidate, Reranker


class Searcher(Protocol):
    """What a search step may use of the retriever running it (rag.retrieval.hybrid.Retriever)."""

    components: Components
    reranker: Reranker

    def fill_scores(self, collection: str, vector: np.ndarray, bm25: Scores, candidates: list[Candidate]) -> None: ...

    def fill_text(self, collection: str, candidates: list[Candidate]) -> list[Candidate]: ...


@dataclass
class SearchState:
    collection: str
    query: str
    filters: dict[str, Any] | None
    vector: np.ndarray  # the query's embedding
    bm25: Scores  # every live chunk's bm25 score for the query
    candidates: list[Candidate]  # dense and keyword candidates, fused by rank
    ranked: list[tuple[Candidate, float]]  # the order so far, best first, with each candidate's score
