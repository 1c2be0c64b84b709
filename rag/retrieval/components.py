"""The expensive shared objects (embedder, vector store, keyword index), built once per process."""

from __future__ import annotations

from dataclasses import dataclass

from rag.config import Settings
from rag.retrieval.embeddings import Embedder, load_embedder
from rag.retrieval.keyword import KeywordIndex, open_keyword_index
from rag.storage.vectors import ChromaStore, VectorStore


@dataclass
class Components:
    settings: Settings
    embedder: Embedder
    store: VectorStore
    keyword: KeywordIndex


def build_components(settings: Settings) -> Components:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = ChromaStore(url=settings.chroma_url) if settings.chroma_url else ChromaStore(path=str(settings.chroma_dir))
    return Components(
        settings=settings,
        embedder=load_embedder(
            settings.embedding_model, settings.embedding_batch_size, settings.onnx_queries, settings.document_encoder
        ),
        store=store,
        keyword=open_keyword_index(settings),
    )
