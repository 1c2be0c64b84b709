"""Search steps after the hybrid re-rank, each switchable (RAG_SEARCH_STEPS, `rag eval --config hybrid+STEP`).

A step reads and rewrites a search's order (SearchState.ranked): feedback steps re-score the candidates and
re-rank them with the hybrid re-ranker; the others re-order or merge the first results. Each one's gain per
dev set is in the README ("Evaluating retrieval").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from rag.errors import InvalidInput
from rag.retrieval.duplicates import WINDOW, collapse
from rag.retrieval.duplicates import heading_match as heading_terms
from rag.retrieval.embeddings import Embedder
from rag.retrieval.feedback import FEEDBACK_CHUNKS, PRF_CHUNKS, rocchio
from rag.retrieval.late_interaction import LATE_WINDOW, TokenVectors, fuse, maxsim
from rag.retrieval.rerank import Candidate
from rag.retrieval.state import Searcher, SearchState
from rag.text.headings import with_context

Step = Callable[[Searcher, SearchState], None]

PAGE_WINDOW = 20  # page evidence: results looked at
PAGE_BONUS = 0.1  # page evidence: share of the other results' scores on the same page added to a result's
HEADING_BONUS = 0.1  # heading match: added for a heading path holding every term of the question


def _rescored(retriever: Searcher, state: SearchState) -> None:
    """Order the candidates again by the hybrid re-ranker, over the scores a feedback step changed."""
    state.ranked = retriever.reranker.rerank(state.query, state.candidates)


def keyword_feedback(retriever: Searcher, state: SearchState) -> None:
    """RM3: expand the keyword query with the top results' terms; re-score every candidate's bm25 with it, and
    let the expanded query's best chunks in as candidates."""
    feedback = [(c.chunk_id, max(score, 1e-6)) for c, score in state.ranked[:FEEDBACK_CHUNKS]]
    keyword = retriever.components.keyword
    expanded = keyword.expanded_scores(state.collection, state.query, feedback, state.filters)
    known = {c.chunk_id for c in state.candidates}
    fresh = [Candidate(cid) for cid, _ in expanded.top(retriever.components.settings.candidates) if cid not in known]
    if fresh:
        retriever.fill_scores(state.collection, state.vector, state.bm25, fresh)
        state.candidates += fresh
    for candidate in state.candidates:
        candidate.keyword_score = expanded.of(candidate.chunk_id)
    _rescored(retriever, state)


def vector_feedback(retriever: Searcher, state: SearchState) -> None:
    """Rocchio on the query vector: move it towards the top results' vectors, re-score every candidate's cosine."""
    store = retriever.components.store
    vectors = store.embeddings(state.collection, [c.chunk_id for c in state.candidates])
    top = [vectors[c.chunk_id] for c, _ in state.ranked[:PRF_CHUNKS] if c.chunk_id in vectors]
    moved = rocchio(state.vector, top)
    for candidate in state.candidates:
        if candidate.chunk_id in vectors:
            candidate.dense_score = float(np.dot(vectors[candidate.chunk_id], moved))
    _rescored(retriever, state)


def collapse_duplicates(retriever: Searcher, state: SearchState) -> None:
    """Near-duplicates among the first results become one (rag/retrieval/duplicates.py)."""
    retriever.fill_text(state.collection, [c for c, _ in state.ranked[:WINDOW]])
    ranked = [(c, s) for i, (c, s) in enumerate(state.ranked) if i >= WINDOW or c.metadata]  # none: deleted
    analyzer = retriever.components.keyword.analyzer
    state.ranked = collapse(ranked, set(analyzer.query_terms(state.query)), analyzer.terms)


def page_evidence(retriever: Searcher, state: SearchState) -> None:
    """A page that several of the first results come from is likelier the one that answers: each result gains
    PAGE_BONUS × the scores of the others from its page (or its section, in documents without pages)."""
    head = retriever.fill_text(state.collection, [c for c, _ in state.ranked[:PAGE_WINDOW]])
    scores = {c.chunk_id: s for c, s in state.ranked[:PAGE_WINDOW]}

    def unit(c: Candidate) -> tuple[str, object]:
        return str(c.metadata.get("document_id")), c.metadata.get("page") or c.metadata.get("section")

    totals: dict[tuple[str, object], float] = {}
    for candidate in head:
        totals[unit(candidate)] = totals.get(unit(candidate), 0.0) + scores[candidate.chunk_id]
    boosted = {c.chunk_id: scores[c.chunk_id] + PAGE_BONUS * (totals[unit(c)] - scores[c.chunk_id]) for c in head}
    first = sorted(((c, boosted[c.chunk_id]) for c in head), key=lambda pair: pair[1], reverse=True)
    state.ranked = first + state.ranked[PAGE_WINDOW:]


def heading_match(retriever: Searcher, state: SearchState) -> None:
    """Results whose document name and headings hold the question's words move up: each gains HEADING_BONUS ×
    the share of the question's terms found there (a chunk's own words may be about a neighbouring subject)."""
    head = retriever.fill_text(state.collection, [c for c, _ in state.ranked[:PAGE_WINDOW]])
    analyzer = retriever.components.keyword.analyzer
    wanted = set(analyzer.query_terms(state.query))
    scores = {c.chunk_id: s for c, s in state.ranked[:PAGE_WINDOW]}
    share = {c.chunk_id: heading_terms(c, wanted, analyzer.terms) / max(len(wanted), 1) for c in head}
    first = [(c, scores[c.chunk_id] + HEADING_BONUS * share[c.chunk_id]) for c in head]
    state.ranked = sorted(first, key=lambda pair: pair[1], reverse=True) + state.ranked[PAGE_WINDOW:]


@lru_cache(maxsize=4)
def _token_vectors(embedder: Embedder) -> TokenVectors:
    return TokenVectors(embedder.embed_tokens)


def late_interaction(retriever: Searcher, state: SearchState) -> None:
    """The first LATE_WINDOW results re-ordered by reciprocal rank fusion of their order so far and their
    MaxSim over token vectors (rag/retrieval/late_interaction.py), each read with its header as embedded."""
    head = retriever.fill_text(state.collection, [c for c, _ in state.ranked[:LATE_WINDOW]])
    if len(head) < 2:
        return
    tokens = _token_vectors(retriever.components.embedder)
    question = retriever.components.embedder.embed_tokens([state.query])[0]
    texts = [with_context(c.text, c.metadata.get("context")) for c in head]
    late = {c.chunk_id: maxsim(question, vectors) for c, vectors in zip(head, tokens.of(texts), strict=True)}
    scores = {c.chunk_id: s for c, s in state.ranked[:LATE_WINDOW]}
    by_id = {c.chunk_id: c for c in head}
    order = fuse([c.chunk_id for c in head], late)
    state.ranked = [(by_id[cid], scores[cid]) for cid in order] + state.ranked[LATE_WINDOW:]


STEPS: dict[str, Step] = {
    "late-interaction": late_interaction,
    "rm3": keyword_feedback,
    "vector-prf": vector_feedback,
    "dedupe": collapse_duplicates,
    "page-evidence": page_evidence,
    "heading-match": heading_match,
}
RESCORING = {"rm3", "vector-prf"}  # steps that need the hybrid re-ranker's two scores


def check_steps(names: Sequence[str]) -> list[str]:
    """The steps' names, checked: each known, each once, in the order given."""
    steps = [name.strip() for name in names if name.strip()]
    unknown = [name for name in steps if name not in STEPS]
    if unknown:
        raise InvalidInput(f"unknown search step {unknown[0]!r}: choose from {', '.join(STEPS)}")
    return list(dict.fromkeys(steps))


def run_steps(retriever: Searcher, state: SearchState, names: Sequence[str]) -> None:
    for name in names:
        if name in RESCORING and not retriever.reranker.needs_scores:
            continue  # a cross-encoder's scores are not the two a feedback step changes
        STEPS[name](retriever, state)
