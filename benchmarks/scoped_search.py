"""What a key's document filter costs a search: the same queries through the real retriever, without a scope and
under one that admits half of the documents, in the same run.

    .venv/bin/python benchmarks/scoped_search.py [--chunks 20000] [--queries 200] [--data-dir DIR]

Stores synthetic chunks (Zipf-distributed words, random unit vectors; every other document tagged
department=hr, the others department=finance) straight into Chroma, the keyword index and the registry, then
times `Retriever.search` (top 5, the default re-ranker) per query: unscoped, then under `department=hr` (Chroma
`where` and the keyword index's rows of the scope, cached per collection change), and the first scoped search
alone (the scope's rows read from the database). Prints p50/p95 in ms and the scoped/unscoped ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.access import parse_where, scoped_to  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.retrieval.components import build_components  # noqa: E402
from rag.retrieval.hybrid import Retriever  # noqa: E402
from rag.retrieval.rerank import build_reranker  # noqa: E402
from rag.storage.registry import open_registry  # noqa: E402
from rag.text.instructions import FLAG_KEY  # noqa: E402
from rag.types import Chunk  # noqa: E402

COLLECTION = "bench-scoped"
CHUNKS_PER_DOC = 50


def build_corpus(settings: Settings, n_chunks: int, dim: int) -> list[str]:
    """Write the synthetic chunks (reusing a finished corpus); returns the vocabulary."""
    rng = np.random.default_rng(11)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = ["".join(rng.choice(letters, rng.integers(3, 10))) for _ in range(20_000)]
    components = build_components(settings)
    keyword, store, registry = components.keyword, components.store, open_registry(settings)
    if keyword.count(COLLECTION) >= n_chunks:
        return words
    weights = 1.0 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    for doc in range(n_chunks // CHUNKS_PER_DOC):
        doc_id, department = f"doc-{doc:05d}.txt", "hr" if doc % 2 == 0 else "finance"
        texts = [" ".join(rng.choice(words, 120, p=weights)) for _ in range(CHUNKS_PER_DOC)]
        vectors = rng.standard_normal((CHUNKS_PER_DOC, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        meta = {"document_id": doc_id, "collection": COLLECTION, "filename": doc_id, "version": "v1",
                "department": department, FLAG_KEY: False}  # as ingestion stores them  # fmt: skip
        chunks = [Chunk(f"{doc_id}#v1#{i}", doc_id, COLLECTION, t, {**meta, "chunk_index": i})
                  for i, t in enumerate(texts)]  # fmt: skip
        registry.begin(COLLECTION, doc_id, doc_id, 0, "x", "v1", {"department": department})
        store.upsert(COLLECTION, chunks, vectors)
        keyword.replace_document(COLLECTION, doc_id, "v1", chunks)
        registry.finish(COLLECTION, doc_id, filename=doc_id, size=0, sha256="x", version="v1",
                        chunk_count=len(chunks), pages=None, metadata={"department": department})  # fmt: skip
    return words


def timed(retriever: Retriever, queries: list[str]) -> list[float]:
    times = []
    for query in queries:
        started = time.perf_counter()
        retriever.search(COLLECTION, query, 5)
        times.append((time.perf_counter() - started) * 1000)
    return times


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the corpus here between runs")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="rag-bench-scoped-"))
    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    components = build_components(settings)
    started = time.perf_counter()
    words = build_corpus(settings, args.chunks, components.embedder.dimension)
    print(f"corpus: {args.chunks:,} chunks in {data_dir} ({time.perf_counter() - started:.0f} s)")
    retriever = Retriever(components, build_reranker(settings.reranker_model))
    rng = np.random.default_rng(3)
    queries = [" ".join(rng.choice(words[:2000], 4)) for _ in range(args.queries)]
    timed(retriever, queries[:10])  # warm: the BM25 index, the query encoder
    scope = parse_where(["department=hr"])
    with scoped_to(scope):
        first = timed(retriever, queries[:1])[0]  # the scope's rows read from the database, then cached
    plain = timed(retriever, queries)
    with scoped_to(scope):
        scoped = timed(retriever, queries)
    print(f"unscoped  p50 {statistics.median(plain):7.1f} ms  p95 {p95(plain):7.1f} ms")
    print(f"scoped    p50 {statistics.median(scoped):7.1f} ms  p95 {p95(scoped):7.1f} ms"
          f"  (x{statistics.median(scoped) / statistics.median(plain):.2f} p50)")  # fmt: skip
    print(f"first scoped search (scope rows not cached yet): {first:.1f} ms")


if __name__ == "__main__":
    main()
