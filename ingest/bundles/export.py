"""`rag export`: a collection as one bundle (see archive.py), streamed into any binary file or pipe."""

from __future__ import annotations

import json
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from ingest.bundles.archive import (
    CHUNKS,
    DOCUMENTS,
    FORMAT,
    MANIFEST,
    ORIGINALS,
    SOURCES,
    VECTORS,
    VERSION,
    EmbedderIdentity,
    file_sha256,
)
from ingest.bundles.sources import write_sources
from rag.errors import NotFound, Unprocessable
from rag.storage.clock import now

if TYPE_CHECKING:
    from ingest.pipeline import IngestPipeline
    from rag.storage.sources import SourceStore

VECTOR_BATCH = 1000  # chunk ids per vector read


@dataclass(frozen=True)
class Staged:
    folder: Path
    manifest: dict[str, Any]


def stage_bundle(pipeline: IngestPipeline, sources: SourceStore, collection: str, folder: Path) -> Staged:
    """Write the collection's members into `folder` (document by document: memory stays bounded), its
    sources (ingest/bundles/sources.py) and its manifest; `write_bundle` then streams them into the archive."""
    record = pipeline.registry.collection(collection)
    if record is None:
        raise NotFound(f"collection {collection!r} not found")
    documents = pipeline.registry.documents(collection)
    identity = EmbedderIdentity.of(pipeline.embedder)
    (folder / ORIGINALS).mkdir(parents=True, exist_ok=True)
    chunk_count, originals = 0, set()
    with (folder / DOCUMENTS).open("w", encoding="utf-8") as docs_out, (folder / CHUNKS).open(
        "w", encoding="utf-8"
    ) as chunks_out, (folder / VECTORS).open("wb") as vectors_out:  # fmt: skip
        for document in documents:
            chunks = pipeline.keyword.document_chunks(collection, document.document_id)
            for start in range(0, len(chunks), VECTOR_BATCH):
                part = chunks[start : start + VECTOR_BATCH]
                vectors = pipeline.store.embeddings(collection, [c.chunk_id for c in part])
                missing = [c.chunk_id for c in part if c.chunk_id not in vectors]
                if missing:
                    raise Unprocessable(
                        f"{len(missing)} chunks of {document.document_id!r} have no vector (e.g. {missing[0]}):"
                        " ingest the document again before exporting"
                    )
                for chunk in part:
                    row = {"chunk_id": chunk.chunk_id, "document_id": chunk.document_id, "text": chunk.text,
                           "metadata": chunk.metadata}  # fmt: skip
                    chunks_out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    vectors_out.write(np.asarray(vectors[chunk.chunk_id], dtype="<f4").tobytes())
            chunk_count += len(chunks)
            docs_out.write(json.dumps({**document.public(), "chunk_count": len(chunks)}, ensure_ascii=False) + "\n")
            original = pipeline.originals.path(collection, document.sha256)
            if original is not None and document.sha256 not in originals:
                shutil.copyfile(original, folder / ORIGINALS / document.sha256)
                originals.add(document.sha256)
    source_count = write_sources(sources, collection, {d.document_id for d in documents}, folder / SOURCES)
    names = [DOCUMENTS, CHUNKS, VECTORS, SOURCES, *(f"{ORIGINALS}{sha}" for sha in sorted(originals))]
    manifest = {
        "format": FORMAT, "version": VERSION, "collection": collection, "description": record.description,
        "created_at": now(), "embedder": {"name": identity.name, "dimension": identity.dimension},
        "counts": {"documents": len(documents), "chunks": chunk_count, "originals": len(originals),
                   "sources": source_count},
        "members": {name: {"size": (folder / name).stat().st_size, "sha256": file_sha256(folder / name)}
                    for name in names},
    }  # fmt: skip
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return Staged(folder, manifest)


def write_bundle(staged: Staged, out: BinaryIO) -> None:
    """The archive, streamed (`w|`): manifest first, so a reader checks the embedder before anything else."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name in [MANIFEST, *staged.manifest["members"]]:
            tar.add(staged.folder / name, arcname=name, recursive=False)
