"""Vector store: Chroma, embedded (PersistentClient) or a server (HttpClient), same behaviour.

Embeddings are always passed in: Chroma's default embedding function would download a model.
Chroma keeps vectors and metadata (for filters) but not the chunk text: the keyword index holds
the text already, and Chroma's own full-text indexing of documents tripled the cost of an upsert.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

import numpy as np

from rag.access import current_scope
from rag.types import Chunk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DenseHit:
    chunk_id: str
    document_id: str
    metadata: dict[str, Any]
    similarity: float  # cosine similarity, higher is better


class VectorStore(Protocol):
    def upsert(self, collection: str, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None: ...

    def query(
        self,
        collection: str,
        embedding: np.ndarray,
        limit: int,
        filters: dict[str, Any] | None = None,
        metadata: bool = True,
        among: Sequence[str] | None = None,
    ) -> list[DenseHit]: ...

    def embeddings(self, collection: str, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]: ...

    def delete_document(
        self, collection: str, document_id: str, keep_version: str | None = None, only_version: str | None = None
    ) -> None: ...

    def delete_collection(self, collection: str) -> None: ...

    def heartbeat(self) -> bool: ...


# Beyond this many ids a query sends the scope as a `where` (a request to a Chroma server carries the ids).
MAX_AMONG = 50_000


def chroma_where(filters: dict[str, Any] | None, *more: dict[str, Any] | None) -> dict[str, Any] | None:
    """Our flat `{key: value | [values]}` filters as a Chroma `where` clause; several sets (a request's and a
    key's document scope, which may name the same key) must all match."""
    clauses = [
        {key: {"$in": value}} if isinstance(value, list) else {key: value}
        for group in (filters, *more)
        for key, value in (group or {}).items()
    ]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


# The names earlier versions handed to Chroma verbatim (Chroma's own rules, which an IPv4 address broke).
_LEGACY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$")
_IPV4 = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_MAPPED = re.compile(r"^rag-[0-9a-f]{40}$")


def chroma_collection_name(collection: str) -> str:
    """The Chroma collection behind a user-chosen name: derived from a hash, so any name people choose
    (short, non-ASCII, shaped like an IP address) is one Chroma accepts, and every process finds the same."""
    return "rag-" + hashlib.sha256(collection.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _legacy_name(collection: str) -> str | None:
    """The verbatim name data directories written before the mapping use, if this name could be one (never
    another collection's mapped name: a user naming theirs `rag-<hash>` must not reach someone else's)."""
    if (
        _LEGACY_NAME.match(collection)
        and ".." not in collection
        and not _IPV4.match(collection)
        and not _MAPPED.match(collection)
    ):
        return collection
    return None


def _chroma_metadata(chunk: Chunk) -> dict[str, Any]:
    # Chroma accepts only scalar, non-null metadata values.
    return {k: v for k, v in chunk.metadata.items() if isinstance(v, (str, int, float, bool))}


def _vectors(target: Any, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
    got = target.get(ids=list(chunk_ids), include=["embeddings"])
    return {cid: np.asarray(vec, dtype=np.float32) for cid, vec in zip(got["ids"], got["embeddings"], strict=True)}


class ChromaStore:
    def __init__(self, path: str | None = None, url: str | None = None) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if url:
            parsed = urlparse(url)
            self.client = chromadb.HttpClient(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
        else:
            self.client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        self._collections: dict[str, Any] = {}

    def _collection(self, name: str, create: bool = True) -> Any | None:
        if name not in self._collections:
            found = self._existing(name)
            if found is None and create:
                found = self.client.get_or_create_collection(
                    chroma_collection_name(name), embedding_function=None, metadata={"hnsw:space": "cosine"}
                )
            if found is None:
                return None
            self._collections[name] = found
        return self._collections[name]

    def _existing(self, name: str) -> Any | None:
        """The collection's Chroma collection if it exists: under its mapped name, or under its own name
        in a data directory written before the mapping (kept working, not migrated)."""
        for candidate in (chroma_collection_name(name), _legacy_name(name)):
            if candidate is None:
                continue
            try:
                return self.client.get_collection(candidate, embedding_function=None)
            except Exception:  # chromadb raises NotFoundError or ValueError depending on mode
                continue
        return None

    def upsert(self, collection: str, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        target = self._collection(collection)
        step = self.client.get_max_batch_size()
        for start in range(0, len(chunks), step):
            part = chunks[start : start + step]
            target.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=embeddings[start : start + step],
                metadatas=[_chroma_metadata(c) for c in part],
            )

    def query(
        self,
        collection: str,
        embedding: np.ndarray,
        limit: int,
        filters: dict[str, Any] | None = None,
        metadata: bool = True,
        among: Sequence[str] | None = None,
    ) -> list[DenseHit]:
        """Nearest chunks; `metadata=False` returns ids and similarities only (Chroma then skips a
        metadata read that costs more than the vector search itself). Only chunks the request's document scope
        admits (rag.access.current_scope), which Chroma applies before it takes the nearest `limit`: `among`, the
        scope's chunk ids when the caller has them (rag.retrieval.keyword.scope_chunk_ids; several times faster
        than Chroma's `where` on metadata), else a `where` on the scope."""
        from chromadb.errors import InternalError

        target = self._collection(collection, create=False)
        scope = current_scope()
        if target is None or (among is not None and not among):
            return []
        by_ids = among is not None and len(among) <= MAX_AMONG
        try:
            result = target.query(
                query_embeddings=[embedding],
                n_results=limit,
                ids=list(among) if by_ids and among is not None else None,
                where=chroma_where(filters, scope.filters if scope and not by_ids else None),
                include=["metadatas", "distances"] if metadata else ["distances"],
            )
        except InternalError as exc:
            # Embedded Chroma whose vectors lag its metadata ("Error finding id"): another process wrote
            # there (ingest/ownership.py keeps that from happening to a server). Keyword search still answers.
            log.warning("dense search of %r failed, keyword results only: %s", collection, exc)
            return []
        metadatas = result["metadatas"][0] if metadata else [None] * len(result["ids"][0])
        hits = []
        for cid, meta, distance in zip(result["ids"][0], metadatas, result["distances"][0], strict=True):
            meta = dict(meta or {})
            hits.append(DenseHit(cid, str(meta.get("document_id", "")), meta, 1.0 - float(distance)))
        return hits

    def embeddings(self, collection: str, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id; ids Chroma cannot serve are left out, never an error."""
        from chromadb.errors import InternalError

        target = self._collection(collection, create=False)
        if target is None or not chunk_ids:
            return {}
        try:
            return _vectors(target, chunk_ids)
        except InternalError:
            # One id it holds metadata for but no vector (see query) fails the whole call: ask one by one.
            found: dict[str, np.ndarray] = {}
            for chunk_id in chunk_ids:
                with contextlib.suppress(InternalError):
                    found |= _vectors(target, [chunk_id])
            log.warning("%d of %d vectors missing from %r", len(chunk_ids) - len(found), len(chunk_ids), collection)
            return found

    def delete_document(
        self, collection: str, document_id: str, keep_version: str | None = None, only_version: str | None = None
    ) -> None:
        """Delete a document's vectors: all, all but `keep_version`, or only those of `only_version`."""
        target = self._collection(collection, create=False)
        if target is None:
            return
        where: dict[str, Any] = {"document_id": document_id}
        if keep_version is not None:
            where = {"$and": [where, {"version": {"$ne": keep_version}}]}
        elif only_version is not None:
            where = {"$and": [where, {"version": only_version}]}
        target.delete(where=where)

    def delete_collection(self, collection: str) -> None:
        self._collections.pop(collection, None)
        for candidate in (chroma_collection_name(collection), _legacy_name(collection)):
            if candidate is None:
                continue
            try:
                self.client.delete_collection(candidate)
            except Exception:  # already gone: deleting is idempotent
                pass

    def heartbeat(self) -> bool:
        try:
            self.client.heartbeat()
            return True
        except Exception:
            return False
