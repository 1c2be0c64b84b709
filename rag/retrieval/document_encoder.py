"""Document embeddings in sorted batches: through ONNX Runtime (the query path's export) or PyTorch.

Why ONNX Runtime: on this CPU it runs MiniLM's full batches faster than PyTorch with the same weights
and the same vectors (cosine >= 0.9999, checked at start). Why sorted by length: a batch is padded to
its longest text, so texts of like length together waste little on padding; vectors come back in the
caller's order. Tokenizing the next batch (Rust, outside the GIL) runs in a thread while the current one
is in the encoder, so the encoder never waits for it. Each batch takes its own turn at the encoder: an
interactive caller waits for one batch at most, and a stop request ends the work between two batches.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from rag.retrieval.query_encoder import input_names

log = logging.getLogger(__name__)

# Texts of different lengths (one past the model's 256 tokens: truncation) so that a batch is padded.
_PROBES = [
    "Annual leave: full-time employees get 25 days a year, part-time staff pro rata.",
    "E09",
    "The RX200 charges in about two hours. " * 60,
    "Passwords must be at least twelve characters long and are changed every ninety days by policy.",
]
_MIN_AGREEMENT = 0.9999  # cosine between ONNX Runtime's and PyTorch's vectors of every probe

Turn = Callable[[], AbstractContextManager[None]]


class EncodingStopped(Exception):
    """The caller's stop event was set: encoding ended between two batches."""


class OnnxDocumentEncoder:
    def __init__(self, session: Any, tokenizer: Any, max_length: int, dimension: int) -> None:
        self.session = session
        self.input_names = input_names(tokenizer)
        self.dimension = dimension
        # A private Rust tokenizer configured once (truncate, pad to the batch's longest) and never changed
        # after, so that concurrent callers can share it.
        rust = copy.deepcopy(tokenizer.backend_tokenizer)
        rust.enable_truncation(max_length)
        rust.enable_padding(pad_id=int(tokenizer.pad_token_id or 0), pad_token=str(tokenizer.pad_token or "[PAD]"))
        self._rust = rust
        self._tokenizing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="document-tokenizer")
        self._run_options = shrinking_run_options()

    def features(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        encodings = self._rust.encode_batch(list(texts))
        arrays = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        return {name: arrays[name] for name in self.input_names}

    def run(self, features: dict[str, np.ndarray], last: bool = True) -> np.ndarray:
        """Vectors of one batch; the `last` of a call hands the arena's growth back (earlier ones keep it: shrinking
        after every batch cost a tenth of the encoder's speed)."""
        options = self._run_options if last else None
        vectors = np.asarray(self.session.run(None, features, options)[0], dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def encode(
        self, texts: Sequence[str], batch_size: int, turn: Turn, stop: threading.Event | None = None
    ) -> np.ndarray:
        """Normalized vectors of `texts` in their order; each batch's inference inside `turn()`."""
        batches = sorted_batches(texts, batch_size)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        upcoming: Future[dict[str, np.ndarray]] | None = None
        if batches:
            upcoming = self._tokenizing.submit(self.features, [texts[i] for i in batches[0]])
        for number, rows in enumerate(batches):
            assert upcoming is not None
            features = upcoming.result()
            if number + 1 < len(batches):
                upcoming = self._tokenizing.submit(self.features, [texts[i] for i in batches[number + 1]])
            if stop is not None and stop.is_set():
                raise EncodingStopped("encoding stopped before its end")
            with turn():
                vectors[rows] = self.run(features, last=number + 1 == len(batches))
        return vectors


def shrinking_run_options() -> Any:
    """Run options that hand the arena's growth back at the end of a run: ONNX Runtime's CPU arena otherwise
    keeps the buffers of the longest batch it ever ran (batches of 256-token chunks) for the server's life.
    Queries keep the arena (they are short and latency counts); documents shrink it after their last batch."""
    import onnxruntime

    options = onnxruntime.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


def sorted_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    """Indexes of `texts` in batches of like length (characters: a cheap stand-in for tokens)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def encode_with_pytorch(
    model: Any, texts: Sequence[str], batch_size: int, turn: Turn, stop: threading.Event | None = None
) -> np.ndarray:
    """The same batching through sentence-transformers: the fallback, and the reference."""
    dimension = int(model.get_embedding_dimension() or 0)
    vectors = np.zeros((len(texts), dimension), dtype=np.float32)
    for rows in sorted_batches(texts, batch_size):
        if stop is not None and stop.is_set():
            raise EncodingStopped("encoding stopped before its end")
        with turn():
            vectors[rows] = model.encode(
                [texts[i] for i in rows],
                batch_size=len(rows),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
    return vectors


def checked_document_encoder(model: Any, session: Any) -> OnnxDocumentEncoder | None:
    """A document encoder over `session`, or None (logged) when its vectors disagree with PyTorch's."""
    dimension = int(model.get_embedding_dimension() or 0)
    encoder = OnnxDocumentEncoder(session, model.tokenizer, int(model.max_seq_length), dimension)
    onnx = encoder.run(encoder.features(_PROBES))
    expected = model.encode(_PROBES, normalize_embeddings=True, show_progress_bar=False)
    agreement = float(np.min(np.sum(onnx * expected, axis=1)))
    if agreement < _MIN_AGREEMENT:
        log.warning("ONNX document encoder disagrees with PyTorch (cosine %.6f); documents use PyTorch", agreement)
        return None
    return encoder
