"""What goes into an ingest and what comes out of it: sources, per-file results, and each source's document id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.names import clean_name
from rag.storage.registry.types import DocumentRecord

# Metadata of a document read from inside another (an e-mail's attachment): the id of the document it came in,
# and its name there. Deleting or replacing that document deletes or replaces it too (ingest/storing.py).
ATTACHED_TO = "attached_to"
ATTACHMENT = "attachment"


@dataclass
class Source:
    """One file (or raw text) to ingest."""

    filename: str
    read: Callable[[], bytes]
    size: int
    document_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    kind: str | None = None  # a file name whose extension picks the loader, when `filename` cannot

    @classmethod
    def from_path(cls, path: Path, document_id: str | None = None) -> Source:
        return cls(path.name, path.read_bytes, path.stat().st_size, document_id)

    @classmethod
    def from_bytes(cls, filename: str, data: bytes, **kwargs: Any) -> Source:
        return cls(filename, lambda: data, len(data), **kwargs)


@dataclass
class FileResult:
    filename: str
    document_id: str
    status: str  # ingested | unchanged | failed; the CLI adds skipped (a symlink it did not follow)
    chunks: int = 0
    pages: int | None = None
    reason: str | None = None
    status_code: int | None = None  # the HTTP status of a failure


ProgressCallback = Callable[[FileResult], None]


def unchanged_result(filename: str, document_id: str, existing: DocumentRecord) -> FileResult:
    """The result of a file whose stored version is already this one."""
    return FileResult(filename, document_id, "unchanged", existing.chunk_count, existing.pages)


def failed_result(filename: str, document_id: str, reason: str, status_code: int) -> FileResult:
    """The result of a file that failed alone, with the HTTP status an API caller sees."""
    return FileResult(filename, document_id, "failed", reason=reason, status_code=status_code)


def document_ids(sources: list[Source]) -> list[str | FileResult]:
    """Each source's document id, or the failure to report when it has none of its own.

    Two files with one id in the same batch (`dup.txt` twice, `a/same.txt` and `b/same.txt` uploaded
    as `same.txt`) would overwrite each other: the first keeps the id, the others fail with 409.
    """
    first: dict[str, int] = {}
    ids: list[str | FileResult] = []
    for index, source in enumerate(sources):
        document_id = clean_name(source.document_id or source.filename)
        if not document_id:
            ids.append(failed_result(source.filename, "", "the document id is empty", 422))
        elif document_id in first:
            reason = (
                f"duplicate document id {document_id!r}: file {first[document_id] + 1} of this batch already has it;"
                " this file was not ingested (give each file its own document_id to keep both)"
            )
            ids.append(failed_result(source.filename, document_id, reason, 409))
        else:
            first[document_id] = index
            ids.append(document_id)
    return ids
