"""The offline default re-ranker beats plain rank fusion on a labelled BEIR-format set."""

from __future__ import annotations

from pathlib import Path

from ingest.pipeline import IngestPipeline, Source
from rag.evaluation.retrieval import evaluate, load_beir
from rag.retrieval.components import Components
from rag.retrieval.hybrid import Retriever
from rag.retrieval.rerank import HybridScoreReranker

MINIBEIR = Path(__file__).resolve().parents[2] / "data" / "minibeir"


def test_default_beats_plain_fusion_on_minibeir(pipeline: IngestPipeline, components: Components) -> None:
    data = load_beir(MINIBEIR, "test")
    sources = [
        Source.from_bytes(f"{doc_id}.txt", f"{d['title']}\n\n{d['text']}".encode(), document_id=doc_id)
        for doc_id, d in data.corpus.items()
    ]
    assert all(r.status == "ingested" for r in pipeline.ingest(sources, "minibeir"))
    retriever = Retriever(components, HybridScoreReranker())
    scores = {
        cfg: evaluate(retriever, "minibeir", data, cfg).scores["ndcg@10"] for cfg in ("keyword", "rrf", "default")
    }
    assert scores["default"] > scores["rrf"] > scores["keyword"], scores
