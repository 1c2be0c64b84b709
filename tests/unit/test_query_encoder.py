"""Queries are embedded through ONNX Runtime; the vectors must be the model's own."""

from __future__ import annotations

import numpy as np

from rag.retrieval.embeddings import SentenceTransformerEmbedder
from rag.retrieval.query_encoder import build_onnx_query_encoder


def test_onnx_query_vectors_match_pytorch(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.query_encoder() is not None
    queries = ["How long does the battery take to charge?", "E42", "données personnelles " * 200]
    for query in queries:
        onnx, torch = embedder.embed_query(query), embedder.embed_documents([query])[0]
        assert onnx.shape == torch.shape == (embedder.dimension,)
        assert float(np.dot(onnx, torch)) > 0.9999
        assert abs(float(np.linalg.norm(onnx)) - 1.0) < 1e-5


def test_a_model_that_cannot_be_exported_falls_back_to_pytorch() -> None:
    class NotAModel:
        tokenizer = None
        max_seq_length = 16

    assert build_onnx_query_encoder(NotAModel()) is None


def test_an_export_in_a_child_process_gives_the_same_vectors(embedder: SentenceTransformerEmbedder) -> None:
    encoder = build_onnx_query_encoder(embedder.model, model_path=embedder.model_path)
    assert encoder is not None
    query = "How long does the battery take to charge?"
    assert float(np.dot(encoder.encode(query), embedder.embed_documents([query])[0])) > 0.9999


def test_answer_sentences_embedded_by_length_keep_their_order_and_pytorchs_vectors(
    embedder: SentenceTransformerEmbedder,
) -> None:
    sentences = [f"Sentence {i} says {'very ' * (i * 7 % 23)}little about the leave policy." for i in range(40)]
    fast = embedder.embed_sentences(sentences)
    reference = embedder.embed_documents(sentences)
    assert fast.shape == reference.shape
    assert float(np.min(np.sum(fast * reference, axis=1))) >= 0.9999
