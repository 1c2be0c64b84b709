"""Search configurations `rag eval --config` names: a base, then any search steps, joined by '+'.

Bases: `dense` and `keyword` (one list alone; BEIR sets only), `rrf` (plain rank fusion), `hybrid` (the
default re-ranker with no steps), `default` (exactly what /v1/search does: the configured re-ranker and
RAG_SEARCH_STEPS), `cross-encoder` (RAG_RERANKER_MODEL). Steps (rag/retrieval/steps.py) follow: e.g.
`hybrid+vector-prf+dedupe`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.errors import InvalidInput
from rag.retrieval.steps import check_steps

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.retrieval.components import Components
    from rag.retrieval.hybrid import Retriever

BASES = ("dense", "keyword", "rrf", "hybrid", "default", "cross-encoder")
SINGLE_LISTS = ("dense", "keyword")


@dataclass(frozen=True)
class SearchConfig:
    name: str
    base: str
    steps: tuple[str, ...]


def parse_config(name: str, reranker_model: str | None) -> SearchConfig:
    base, *steps = [part.strip() for part in name.split("+")]
    if base not in BASES or (base == "cross-encoder" and not reranker_model):
        hint = " (cross-encoder needs RAG_RERANKER_MODEL)" if base == "cross-encoder" else ""
        raise InvalidInput(f"unknown configuration {name!r}: a base of {', '.join(BASES)}, then +steps{hint}")
    if steps and base in (*SINGLE_LISTS, "rrf"):
        raise InvalidInput(f"configuration {name!r}: steps follow a re-ranked base (hybrid, default, cross-encoder)")
    return SearchConfig(name, base, tuple(check_steps(steps)))


def build_retriever(config: SearchConfig, components: Components, settings: Settings) -> tuple[Retriever, bool]:
    """The retriever a configuration searches with, and whether it re-ranks."""
    from rag.retrieval.hybrid import Retriever
    from rag.retrieval.rerank import CrossEncoderReranker, HybridScoreReranker, build_reranker

    if config.base == "default":
        steps = [*check_steps(settings.search_steps.split(",")), *config.steps]
        return Retriever(components, build_reranker(settings.reranker_model), steps), True
    if config.base == "cross-encoder":
        return Retriever(components, CrossEncoderReranker(settings.reranker_model or ""), config.steps), True
    return Retriever(components, HybridScoreReranker(), config.steps), config.base != "rrf"
