"""`rag import`: a bundle (see archive.py) into a collection, without re-embedding.

Everything is checked before anything is written: the manifest first (format, embedder, the name), then
each member as it streams by (its name, size and checksum) into a staging folder. Only a bundle found whole
is loaded. Should loading still fail or be interrupted (an error, Ctrl-C, SIGTERM), the collection is
removed again with any source it created, so no half collection stays behind. (A `kill -9` mid-load cannot
be caught: the documents it left half-written are repaired like any ingestion's, and `rag import --replace`
loads it again.)
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from ingest.bundles.archive import (
    CHUNKS,
    DOCUMENTS,
    MANIFEST,
    ORIGINALS,
    READ_BLOCK,
    VECTORS,
    BundleRefused,
    EmbedderIdentity,
    check_embedder,
    check_member_name,
    read_manifest,
)
from ingest.bundles.sources import assign_ids, create_sources, read_sources, remap_source
from ingest.synced_sources import forget_sources
from rag.errors import Conflict
from rag.types import Chunk
from rag.validation import check_collection_name

if TYPE_CHECKING:
    from ingest.pipeline import IngestPipeline
    from rag.storage.sources import SourceStore

UPSERT_CHUNKS = 512  # chunks per vector upsert (each Chroma call costs ~20 ms whatever its size)
MAX_MANIFEST_BYTES = 10 << 20


@dataclass(frozen=True)
class Imported:
    collection: str
    documents: int
    chunks: int
    originals: int
    sources: int = 0


def receive_bundle(
    pipeline: IngestPipeline, source: BinaryIO, folder: Path, name: str | None, replace: bool
) -> tuple[str, dict[str, Any]]:
    """Read and check the whole bundle into `folder`; (the collection name to load it as, the manifest)."""
    import hashlib

    try:
        with tarfile.open(fileobj=source, mode="r|") as tar:
            members = iter(tar)
            first = next(members, None)
            if first is None or first.name != MANIFEST or not first.isfile() or first.size > MAX_MANIFEST_BYTES:
                raise BundleRefused("not a rag bundle: its first member is not manifest.json")
            manifest = read_manifest(_read(tar, first))
            check_embedder(manifest, EmbedderIdentity.of(pipeline.embedder))
            own = str(manifest.get("collection", ""))
            target = check_collection_name(own if name is None else name)  # "--as ''" is refused, not ignored
            if pipeline.registry.exists(target) and not replace:
                raise Conflict(f"collection {target!r} exists already: import with --replace, or --as ANOTHER-NAME")
            expected: dict[str, dict[str, Any]] = manifest.get("members") or {}
            seen: set[str] = set()
            for member in members:
                check_member_name(member.name)
                if member.name not in expected or member.name in seen or not member.isfile():
                    raise BundleRefused(f"the bundle's member {member.name!r} is not one its manifest lists")
                digest = hashlib.sha256()
                target_path = folder / member.name
                target_path.parent.mkdir(parents=True, exist_ok=True)
                handle = tar.extractfile(member)
                assert handle is not None  # a regular file
                with target_path.open("wb") as out:
                    while block := handle.read(READ_BLOCK):
                        digest.update(block)
                        out.write(block)
                if digest.hexdigest() != expected[member.name]["sha256"]:
                    raise BundleRefused(f"checksum mismatch in the bundle's member {member.name!r}: it was changed"
                                        " or damaged after export")  # fmt: skip
                seen.add(member.name)
    except (tarfile.ReadError, EOFError) as exc:
        raise BundleRefused(f"the bundle is truncated or not a tar archive ({exc})") from exc
    missing = sorted(set(expected) - seen)
    if missing:
        raise BundleRefused(f"the bundle is truncated: {len(missing)} members its manifest lists are missing,"
                            f" e.g. {missing[0]!r}")  # fmt: skip
    return target, manifest


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    return handle.read() if handle is not None else b""


def load_bundle(
    pipeline: IngestPipeline,
    folder: Path,
    target: str,
    manifest: dict[str, Any],
    sources: SourceStore,
    allowed_roots: list[Path] | None = None,
    allowed_hosts: list[str] | None = None,
) -> Imported:
    """Load a received bundle as `target` (replacing it and its sources if it exists); all of it, or none of it.
    Its sources are checked first, as `add_source` checks them for this caller (`allowed_roots` and
    `allowed_hosts`: over HTTP): one it may not add refuses the import before anything is written."""
    documents = [json.loads(line) for line in (folder / DOCUMENTS).open(encoding="utf-8")]
    bundled = read_sources(folder, {str(d["document_id"]) for d in documents}, allowed_roots, allowed_hosts)
    if pipeline.registry.exists(target):
        pipeline.delete_collection(target)
    _clear_leftovers(pipeline, sources, target)
    try:
        ids = assign_ids(sources, bundled)  # after the replaced collection's sources went: their ids are free
        done = _load(pipeline, folder, target, manifest, documents, ids)
        return replace(done, sources=create_sources(sources, target, bundled, ids))  # last: they sync what is there
    except BaseException:
        if pipeline.registry.exists(target):
            pipeline.delete_collection(target)
        _clear_leftovers(pipeline, sources, target)
        raise


def _clear_leftovers(pipeline: IngestPipeline, sources: SourceStore, collection: str) -> None:
    """What an earlier import killed mid-way may have left under the name, in stores the registry does not list."""
    pipeline.keyword.delete_collection(collection)
    pipeline.store.delete_collection(collection)
    pipeline.originals.discard_collection(collection)
    forget_sources(sources, pipeline.settings, collection)


def _load(
    pipeline: IngestPipeline, folder: Path, target: str, manifest: dict[str, Any], documents: list[dict[str, Any]],
    source_ids: dict[str, str],
) -> Imported:  # fmt: skip
    registry, dimension = pipeline.registry, int(manifest["embedder"]["dimension"])
    registry.ensure_collection(target, str(manifest.get("description") or ""))
    lease = registry.writer_lease()
    for document in documents:  # a synced document names its source by the id it has here
        document["metadata"] = remap_source(document.get("metadata") or {}, source_ids)
    rows = _chunk_rows(folder / CHUNKS, folder / VECTORS, dimension)
    group: list[tuple[dict[str, Any], list[Chunk], np.ndarray]] = []
    chunks_total = originals = 0
    for document in documents:
        chunks, vectors = [], []
        for _ in range(int(document["chunk_count"])):
            row, vector = next(rows)
            metadata = {**remap_source(row["metadata"], source_ids), "collection": target}
            chunks.append(Chunk(row["chunk_id"], row["document_id"], target, row["text"], metadata))
            vectors.append(vector)
        group.append((document, chunks, np.stack(vectors) if vectors else np.zeros((0, dimension), np.float32)))
        chunks_total += len(chunks)
        if sum(len(c) for _, c, _ in group) >= UPSERT_CHUNKS:
            originals += _write_group(pipeline, folder, target, group, lease)
            group = []
    if group:
        originals += _write_group(pipeline, folder, target, group, lease)
    return Imported(target, len(documents), chunks_total, originals)


def _chunk_rows(chunks: Path, vectors: Path, dimension: int) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    width = dimension * 4
    with chunks.open(encoding="utf-8") as rows, vectors.open("rb") as raw:
        for line in rows:
            data = raw.read(width)
            if len(data) != width:
                raise BundleRefused("the bundle's vectors.f32 holds fewer vectors than chunks.jsonl has chunks")
            yield json.loads(line), np.frombuffer(data, dtype="<f4").astype(np.float32)


def _write_group(
    pipeline: IngestPipeline, folder: Path, target: str, group: list[tuple[dict[str, Any], list[Chunk], np.ndarray]],
    lease: str,
) -> int:  # fmt: skip
    """Like an ingestion's group (ingest/storing.py): rows pending, one vector upsert, then each made live."""
    registry, originals = pipeline.registry, 0
    for document, _, _ in group:
        registry.begin(target, document["document_id"], document["filename"], document["size"], document["sha256"],
                       document["version"], document.get("metadata") or {}, lease)  # fmt: skip
    chunks = [c for _, part, _ in group for c in part]
    if chunks:
        pipeline.store.upsert(target, chunks, np.concatenate([v for _, part, v in group if part]))
    for document, part, _ in group:
        original = folder / ORIGINALS / document["sha256"]
        if original.is_file():
            pipeline.originals.save(target, document["sha256"], original.read_bytes())
            originals += 1
        pipeline.keyword.replace_document(target, document["document_id"], document["version"], part)
        registry.finish(
            target, document["document_id"], filename=document["filename"], size=document["size"],
            sha256=document["sha256"], version=document["version"], chunk_count=len(part), pages=document.get("pages"),
            metadata=document.get("metadata") or {},
        )  # fmt: skip
    return originals
