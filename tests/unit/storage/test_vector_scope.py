"""The dense search under a key's document filter (real embedded Chroma): it keeps to the scope before taking
the nearest k, through the scope's chunk ids when the caller has them, else through a `where` on metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.access import parse_where, scoped_to
from rag.storage.vectors import ChromaStore
from rag.types import Chunk


def test_a_scoped_dense_search_returns_k_admitted_chunks_either_way(tmp_path: Path) -> None:
    store = ChromaStore(path=str(tmp_path / "chroma"))
    rng = np.random.default_rng(5)
    chunks = [
        Chunk(f"d{n}#0", f"d{n}", "c", "", {"document_id": f"d{n}", "department": "hr" if n % 3 == 0 else "fin"})
        for n in range(30)
    ]
    vectors = rng.standard_normal((30, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.upsert("c", chunks, vectors)
    query = vectors[1]  # a finance chunk is the nearest
    assert store.query("c", query, 3, metadata=False)[0].chunk_id == "d1#0"
    admitted = [c.chunk_id for c in chunks if c.metadata["department"] == "hr"]
    with scoped_to(parse_where(["department=hr"])):
        by_where = [h.chunk_id for h in store.query("c", query, 3, metadata=False)]
        by_ids = [h.chunk_id for h in store.query("c", query, 3, metadata=False, among=admitted)]
        assert store.query("c", query, 3, among=[]) == []
        narrowed = store.query("c", query, 3, {"document_id": "d3"}, metadata=False, among=admitted)
    assert len(by_where) == 3 and set(by_where) <= set(admitted) and by_ids == by_where
    assert [h.chunk_id for h in narrowed] == ["d3#0"]
