"""The bundle format: one tar archive, `manifest.json` first, then the members it lists with their sizes and
sha256 checksums:

- `documents.jsonl`: the registry's rows (one document a line);
- `chunks.jsonl`: the keyword rows (chunk id, document id, text, metadata), grouped by document;
- `vectors.f32`: the chunks' vectors in the same order, little-endian float32, `dimension` per chunk;
- `originals/<sha256>`: the files as uploaded;
- `sources.jsonl` (since version 2): the collection's synced sources (kind, location, options, schedule), each
  with its items' sync state (version marker, the document it became); no credential (see sources.py).

The manifest names the embedder (its model's name and dimension): vectors are only worth loading into a
service that embeds questions the same way. Members are staged in a folder and streamed into the archive, so
memory stays bounded however big the collection; reading streams too (tarfile's `r|` mode), checking each
member against the manifest as it goes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import InvalidInput

FORMAT = "rag-bundle"
VERSION = 2
READABLE = (1, 2)  # a version-1 bundle (no sources.jsonl) still imports, without sources
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
CHUNKS = "chunks.jsonl"
VECTORS = "vectors.f32"
ORIGINALS = "originals/"
SOURCES = "sources.jsonl"
_SAFE_MEMBER = re.compile(
    r"^(manifest\.json|documents\.jsonl|chunks\.jsonl|vectors\.f32|sources\.jsonl|originals/[0-9a-f]{64})$"
)
READ_BLOCK = 1 << 20


class BundleRefused(InvalidInput):
    """A bundle this service will not load: what is wrong and, where it helps, what to do."""


@dataclass(frozen=True)
class EmbedderIdentity:
    name: str  # the model folder's name, e.g. all-MiniLM-L6-v2
    dimension: int

    @classmethod
    def of(cls, embedder: Any) -> EmbedderIdentity:
        return cls(Path(str(getattr(embedder, "model_path", "embedder"))).name, int(embedder.dimension))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def check_member_name(name: str) -> None:
    """Only the names the format has: no path of a bundle's choosing ever reaches the disk."""
    if not _SAFE_MEMBER.match(name):
        raise BundleRefused(f"the bundle holds a member named {name!r}, which no bundle has (refused: a path outside"
                            " the bundle's own folder, or a file this service did not write)")  # fmt: skip


def read_manifest(raw: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleRefused("the bundle's manifest.json is not JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleRefused("not a rag bundle (its manifest.json does not say format: rag-bundle)")
    if manifest.get("version") not in READABLE:
        readable = " and ".join(str(v) for v in READABLE)
        raise BundleRefused(f"bundle format version {manifest.get('version')!r}; this service reads {readable}")
    return manifest


def check_embedder(manifest: dict[str, Any], here: EmbedderIdentity) -> None:
    theirs = manifest.get("embedder") or {}
    if theirs.get("name") != here.name or theirs.get("dimension") != here.dimension:
        raise BundleRefused(
            f"the bundle's vectors come from the embedder {theirs.get('name')!r} ({theirs.get('dimension')}"
            f" dimensions); this service embeds with {here.name!r} ({here.dimension} dimensions): its questions"
            " would not match them. Import it where RAG_EMBEDDING_MODEL is the same, or ingest the originals again"
        )
