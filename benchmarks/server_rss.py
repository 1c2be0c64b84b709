"""Memory of `rag serve` right after start, and where it goes.

    .venv/bin/python benchmarks/server_rss.py [--docs sample_docs] [--backend local|openai]

Ingests `--docs` into a fresh data directory, starts the real `rag serve`, waits for /health, and
prints its RSS (then again after one search and one query). A second, in-process run prints the RSS
added by each start-up step: imports, the embedder, its ONNX query copy, the chat backend, Chroma,
the BM25 indexes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def served(data: Path, env: dict[str, str]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(BIN / "rag"), "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code < 600:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        time.sleep(3)  # let the background BM25 warm-up finish
        print(f"rag serve RSS after start:        {rss_mb(proc.pid):7.0f} MB")
        httpx.post(f"{url}/v1/search", json={"query": "annual leave", "collection": "sample"}, timeout=120)
        print(f"rag serve RSS after one search:   {rss_mb(proc.pid):7.0f} MB")
        httpx.post(f"{url}/v1/query", json={"question": "How many days of annual leave?", "collection": "sample"},
                   timeout=300)  # fmt: skip
        print(f"rag serve RSS after one query:    {rss_mb(proc.pid):7.0f} MB")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


STEPS = """
import os, sys, time
sys.path.insert(0, {root!r})
def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) / 1024
last = rss()
def step(name):
    global last
    now = rss()
    print(f"  {{name:<34}} +{{now - last:6.0f}} MB  (total {{now:6.0f}} MB)", flush=True)
    last = now
step("python")
import torch, sentence_transformers, chromadb, fastapi  # noqa
step("imports (torch, sentence-transformers, chromadb, fastapi)")
from rag.config import get_settings
settings = get_settings()
from rag.retrieval.embeddings import load_embedder
torch.set_num_threads(settings.serve_torch_threads)  # as `rag serve` runs
embedder = load_embedder(settings.embedding_model, settings.embedding_batch_size, False, "pytorch")
step("embedder (PyTorch)")
if settings.onnx_queries or settings.document_encoder == "onnx":
    embedder.onnx_queries = settings.onnx_queries
    embedder.onnx_documents = settings.document_encoder == "onnx"
    embedder._onnx_ready = False
    embedder.query_encoder(export_in_child=True)  # as `rag serve` builds it
    step("ONNX query + document encoder (exported in a child)")
from rag.storage.vectors import ChromaStore
store = ChromaStore(path=str(settings.chroma_dir))
store.query("sample", embedder.embed_query("x"), 5)
step("Chroma (sample collection loaded)")
from rag.retrieval.keyword import open_keyword_index
keyword = open_keyword_index(settings)
keyword.warm(["sample"])
step("BM25 index (sample)")
from rag.backends import build_backend
backend = build_backend(settings)
step(f"chat backend ({{settings.backend_name}}) built")
if hasattr(backend, "llm"):
    backend.llm
    step("local llama.cpp model loaded")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, default=ROOT / "sample_docs")
    parser.add_argument("--backend", choices=["local", "openai"], default="local")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, "RAG_DATA_DIR": str(data)}
        if args.backend == "openai":
            env["RAG_CHAT_BASE_URL"] = "http://127.0.0.1:9/v1"  # never called: start-up memory only
        subprocess.run([str(BIN / "rag"), "ingest", str(args.docs), "-c", "sample"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        served(data, env)
        print("where it goes (one process, step by step):")
        subprocess.run([sys.executable, "-c", STEPS.format(root=str(ROOT))], env=env, check=True,
                       stderr=subprocess.DEVNULL)  # fmt: skip


if __name__ == "__main__":
    main()
