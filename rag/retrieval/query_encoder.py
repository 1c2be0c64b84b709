"""Single-query embeddings through ONNX Runtime, exported from the loaded sentence-transformers model.

Why: at batch size 1, PyTorch spends most of a MiniLM forward pass dispatching operators (about 6 ms
on one core here); ONNX Runtime runs the same weights in about 2.5 ms, and query embedding is the
largest cost of a search. The same export serves documents (rag/retrieval/document_encoder.py).
Nothing is downloaded. Tracing and exporting leave ~200 MB behind in the process that does them, so
a server (which would carry them for its whole life) exports in a short-lived child process that
writes the graph to a temporary file, read once by ONNX Runtime and deleted; that costs the child's
start-up, a few seconds (benchmarks/server_rss.py). Short-lived CLI processes export in memory. The
result is checked against PyTorch before it is used; any failure keeps the PyTorch path.
"""

from __future__ import annotations

import copy
import io
import logging
import queue
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np

from rag.memory import return_freed_memory

log = logging.getLogger(__name__)

_PROBE = "How long does the battery last on a full charge?"
_MIN_AGREEMENT = 0.9999  # cosine between the ONNX and PyTorch embeddings of the probe


# Queries that arrive together are embedded in one run: under concurrent load a batch of 8 short
# queries costs little more than one, as in the dynamic batching of inference servers.
MAX_BATCH = 16


class OnnxQueryEncoder:
    def __init__(self, session: Any, tokenizer: Any, input_names: list[str], max_length: int) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.input_names = input_names
        self.max_length = max_length
        self._queue: queue.SimpleQueue[tuple[str, Future[np.ndarray]]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, daemon=True, name="query-encoder").start()

    def encode(self, text: str) -> np.ndarray:
        """One query's normalized embedding; waits only for the batch already running, if any."""
        return self.submit(text).result()

    def submit(self, text: str) -> Future[np.ndarray]:
        """Queue a query; the caller can do other work until it needs the vector."""
        future: Future[np.ndarray] = Future()
        self._queue.put((text, future))
        return future

    def encode_batch(self, texts: list[str]) -> np.ndarray:
        features = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
        inputs = {name: features[name].astype(np.int64) for name in self.input_names}
        vectors = np.asarray(self.session.run(None, inputs)[0], dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                vectors = self.encode_batch([text for text, _ in batch])
            except Exception as exc:  # every waiting caller gets the error, the thread lives on
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                future.set_result(vector)


def export_onnx(model: Any) -> bytes:
    """`model` (a SentenceTransformer) as an ONNX graph with dynamic batch and length axes."""
    import torch

    tokenizer = copy.deepcopy(model.tokenizer)  # the model's own one is reconfigured by every encode
    names = input_names(tokenizer)
    probe = tokenizer([_PROBE], truncation=True, max_length=int(model.max_seq_length), return_tensors="pt")

    class Embedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(names, tensors, strict=True)))["sentence_embedding"]

    buffer = io.BytesIO()
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes fixed at export: harmless here
        torch.onnx.export(
            Embedding().eval(),
            tuple(probe[n] for n in names),
            buffer,
            input_names=names,
            output_names=["embedding"],
            dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    return buffer.getvalue()


def input_names(tokenizer: Any) -> list[str]:
    """The model inputs `tokenizer` produces (MiniLM's has no token_type_ids in some exports)."""
    probe = tokenizer([_PROBE])
    return [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in probe]


def _sessions_exported_in_child(model_path: str, options: list[Any]) -> list[Any]:
    """ONNX Runtime sessions (one per options) over the graph a fresh process exports from `model_path`."""
    import onnxruntime

    with tempfile.TemporaryDirectory(prefix="rag-query-encoder-") as folder:
        graph = f"{folder}/query_encoder.onnx"
        done = subprocess.run([sys.executable, "-m", "rag.retrieval.query_encoder", model_path, graph],
                              capture_output=True, timeout=600, check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"export process failed: {done.stderr.decode(errors='replace')[-500:]}")
        return [onnxruntime.InferenceSession(graph, o, providers=["CPUExecutionProvider"]) for o in options]


def session_options(threads: int) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return options


def onnx_sessions(model: Any, threads: Sequence[int], model_path: str | None = None) -> dict[int, Any]:
    """One export of `model` (a SentenceTransformer; loaded from `model_path` in a child process when given),
    and an ONNX Runtime session over it for each distinct thread count: the query and document encoders
    share one when their counts are equal (one copy of the weights)."""
    import onnxruntime

    counts = sorted(set(threads))
    if model_path:
        return dict(zip(counts, _sessions_exported_in_child(model_path, [session_options(n) for n in counts]),
                        strict=True))  # fmt: skip
    graph = export_onnx(model)
    sessions = {n: onnxruntime.InferenceSession(graph, session_options(n), providers=["CPUExecutionProvider"])
                for n in counts}  # fmt: skip
    del graph
    return_freed_memory()
    return sessions


def checked_query_encoder(model: Any, session: Any) -> OnnxQueryEncoder | None:
    """A query encoder over `session`, or None when its vectors disagree with PyTorch's."""
    tokenizer = copy.deepcopy(model.tokenizer)
    encoder = OnnxQueryEncoder(session, tokenizer, input_names(tokenizer), int(model.max_seq_length))
    expected = model.encode([_PROBE], normalize_embeddings=True, show_progress_bar=False)[0]
    agreement = float(np.dot(encoder.encode_batch([_PROBE, "a shorter second query"])[0], expected))
    if agreement < _MIN_AGREEMENT:
        log.warning("ONNX query encoder disagrees with PyTorch (cosine %.6f); using PyTorch", agreement)
        return None
    return encoder


def build_onnx_query_encoder(model: Any, threads: int = 1, model_path: str | None = None) -> OnnxQueryEncoder | None:
    """Export `model` (a SentenceTransformer; loaded from `model_path` in a child process when given) to ONNX
    and return an encoder, or None when that fails."""
    try:
        return checked_query_encoder(model, onnx_sessions(model, [threads], model_path)[threads])
    except Exception as exc:  # an exotic model the exporter cannot handle: PyTorch still works
        log.warning("ONNX export of the embedding model failed (%s); queries use PyTorch", exc)
        return None


if __name__ == "__main__":  # the child process of `_session_exported_in_child`: MODEL_PATH GRAPH_PATH
    from pathlib import Path

    from sentence_transformers import SentenceTransformer

    model_path, graph_path = sys.argv[1:3]
    Path(graph_path).write_bytes(export_onnx(SentenceTransformer(model_path, device="cpu", local_files_only=True)))
