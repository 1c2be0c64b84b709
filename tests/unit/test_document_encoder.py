"""Documents are embedded through ONNX Runtime in sorted batches; the vectors must stay PyTorch's, in order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from rag.retrieval.document_encoder import EncodingStopped, OnnxDocumentEncoder
from rag.retrieval.embeddings import EncoderTurns, SentenceTransformerEmbedder
from tests.waiting import wait_until

SAMPLE_DOCS = Path(__file__).resolve().parents[2] / "sample_docs"


def sample_texts() -> list[str]:
    """Real texts of every length: the sample documents' paragraphs, and whole files (past 256 tokens)."""
    texts: list[str] = []
    for name in ("faq.md", "release_notes.md", "support_hours.txt", "README.md"):
        whole = (SAMPLE_DOCS / name).read_text(encoding="utf-8")
        texts.append(whole)
        texts.extend(p.strip() for p in whole.split("\n\n") if p.strip())
    return texts


def onnx_encoder(embedder: SentenceTransformerEmbedder) -> OnnxDocumentEncoder:
    encoder = embedder.document_encoder()
    assert encoder is not None, "the ONNX document encoder failed its check against PyTorch"
    return encoder


def test_onnx_document_vectors_match_pytorchs_in_the_callers_order(embedder: SentenceTransformerEmbedder) -> None:
    texts = sample_texts()
    assert len(texts) > 40 and max(embedder.count_tokens(t) for t in texts) > embedder.max_seq_length
    onnx_encoder(embedder)
    vectors = embedder.embed_documents(texts)
    reference = embedder.model.encode(texts, batch_size=16, normalize_embeddings=True, show_progress_bar=False)
    assert vectors.shape == reference.shape == (len(texts), embedder.dimension)
    cosines = np.sum(vectors * reference, axis=1)
    assert float(cosines.min()) >= 0.9999, f"lowest cosine {cosines.min():.6f} at {texts[int(cosines.argmin())]!r}"


def test_a_stop_request_ends_encoding_after_the_batch_in_flight(embedder: SentenceTransformerEmbedder) -> None:
    encoder, stop, batches = onnx_encoder(embedder), threading.Event(), []

    @contextmanager
    def turn() -> Iterator[None]:
        batches.append(1)
        yield
        stop.set()  # asked while the first batch runs

    with pytest.raises(EncodingStopped):
        encoder.encode(sample_texts(), 4, turn, stop)
    assert len(batches) == 1


def test_an_interactive_caller_waits_behind_one_background_batch_at_most(
    embedder: SentenceTransformerEmbedder,
) -> None:
    encoder, turns, events = onnx_encoder(embedder), EncoderTurns(), []

    @contextmanager
    def turn(background: bool) -> Iterator[None]:
        if not background:
            events.append("interactive asks")
        with turns.turn(background):
            events.append("background batch" if background else "interactive batch")
            if background and events.count("background batch") == 2:
                # Holding the encoder: the interactive caller now waits behind this batch.
                wait_until(
                    lambda: turns._interactive_waiting or "interactive batch" in events,
                    "the interactive caller never asked",
                )
            yield

    bulk = [f"Bulk chunk {i}: the robot docks, charges and reports error E{i % 90:02d}." for i in range(120)]
    job = threading.Thread(target=encoder.encode, args=(bulk, 4, lambda: turn(True)))
    job.start()
    wait_until(lambda: "background batch" in events, "the background job never took a turn")
    vectors = encoder.encode(["How long does the battery last?"], 4, lambda: turn(False))
    job.join()
    asked = events.index("interactive asks")
    assert events[asked + 1 :].index("interactive batch") <= 1, events[asked : asked + 4]
    assert "background batch" in events[events.index("interactive batch") :], "the job ended first: make it bigger"
    assert vectors.shape == (1, embedder.dimension)
