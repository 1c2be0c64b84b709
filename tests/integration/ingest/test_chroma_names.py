"""Collection names reach Chroma only as derived ids, on a real embedded Chroma: old data still works and a
name chosen to look like another collection's id reaches nothing of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.storage.vectors import ChromaStore, chroma_collection_name
from rag.types import Chunk


def _vector(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(8).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _chunk(collection: str, chunk_id: str) -> Chunk:
    return Chunk(chunk_id, "doc.txt", collection, "text", {"document_id": "doc.txt", "version": "v1"})


def test_a_data_directory_from_before_the_mapping_keeps_its_vectors(tmp_path: Path) -> None:
    store = ChromaStore(path=str(tmp_path / "chroma"))
    legacy = store.client.get_or_create_collection("kb1", embedding_function=None, metadata={"hnsw:space": "cosine"})
    legacy.upsert(ids=["old#0"], embeddings=[_vector(1)], metadatas=[{"document_id": "doc.txt", "version": "v1"}])

    reopened = ChromaStore(path=str(tmp_path / "chroma"))
    assert [h.chunk_id for h in reopened.query("kb1", _vector(1), 5)] == ["old#0"]
    reopened.upsert("kb1", [_chunk("kb1", "new#0")], np.stack([_vector(2)]))  # lands beside the old vectors
    assert {h.chunk_id for h in reopened.query("kb1", _vector(2), 5)} == {"old#0", "new#0"}
    reopened.delete_collection("kb1")
    assert reopened.query("kb1", _vector(1), 5) == []
    assert [c.name for c in reopened.client.list_collections()] == []


def test_a_name_shaped_like_another_collections_id_stays_its_own(tmp_path: Path) -> None:
    store = ChromaStore(path=str(tmp_path / "chroma"))
    store.upsert("hr", [_chunk("hr", "hr#0")], np.stack([_vector(1)]))
    lookalike = chroma_collection_name("hr")
    assert store.query(lookalike, _vector(1), 5) == []
    store.upsert(lookalike, [_chunk(lookalike, "other#0")], np.stack([_vector(1)]))
    store.delete_collection(lookalike)
    assert [h.chunk_id for h in ChromaStore(path=str(tmp_path / "chroma")).query("hr", _vector(1), 5)] == ["hr#0"]
