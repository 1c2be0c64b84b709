"""Search-only evaluation of a QA set: which page each configuration puts first, without answering.

For each answerable question the top five chunks of a search are mapped to (document, page), as the answer
evaluation does; hit@1, hit@5 and MRR@5 (1 / the rank of the first gold chunk) say how often the page that
answers comes first, and the per-query milliseconds what it costs. Seconds per configuration, not minutes.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

from rag.evaluation.answers import Page, QAItem, is_gold
from rag.retrieval.hybrid import Retriever

DEPTH = 5


def first_gold_rank(pages: Sequence[Page], gold: Sequence[Page]) -> int | None:
    """1-based rank of the first gold page among `pages`, or None."""
    return next((rank for rank, page in enumerate(pages, start=1) if is_gold(page, gold)), None)


def score_config(
    name: str, retriever: Retriever, rerank: bool, collection: str, items: Sequence[QAItem]
) -> dict[str, Any]:
    """hit@1, hit@5, MRR@5 over the answerable questions, and the search's milliseconds p50 / p95."""
    answerable = [item for item in items if item.answerable]
    if answerable:
        retriever.search(collection, answerable[0].question, DEPTH, rerank=rerank)  # warm-up: caches, the encoder
    ranks: list[int | None] = []
    millis: list[float] = []
    misses: list[dict[str, Any]] = []
    for item in answerable:
        started = time.perf_counter()
        hits = retriever.search(collection, item.question, DEPTH, rerank=rerank).hits
        millis.append((time.perf_counter() - started) * 1000)
        pages = [(h.document_id, h.page) for h in hits]
        ranks.append(first_gold_rank(pages, item.gold))
        if ranks[-1] != 1:
            misses.append({"id": item.id, "rank": ranks[-1], "first": list(pages[0]) if pages else None})
    count = len(answerable) or 1
    ordered = sorted(millis) or [0.0]
    return {
        "config": name,
        "questions": len(answerable),
        "hit@1": round(sum(r == 1 for r in ranks) / count, 4),
        "hit@5": round(sum(r is not None for r in ranks) / count, 4),
        "mrr@5": round(sum(1 / r for r in ranks if r) / count, 4),
        "ms_p50": round(statistics.median(ordered), 1),
        "ms_p95": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1),
        "misses": misses,
    }
