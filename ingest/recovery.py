"""Repair of documents a writer left half-written when it died: finished if their new version went live, else undone.

A writer marks a document pending in the registry before its vectors go to Chroma, and settles it once
the keyword index holds the new version (the step that makes it live). A crash in between leaves the
pending row; the next writer to start repairs it here, once the writer's lease shows it is really gone.
"""

from __future__ import annotations

import logging

from rag.retrieval.keyword import KeywordIndex
from rag.storage.registry.types import Registry
from rag.storage.vectors import VectorStore

log = logging.getLogger(__name__)


def recover_half_written(registry: Registry, keyword: KeywordIndex, store: VectorStore) -> int:
    """Finish or undo documents whose writer died half-way; returns how many were repaired.

    Only writers that are really gone: a document another live process is writing is left alone
    (its writer's lease is still locked). Pending rows are read before the leases, so a writer that
    starts meanwhile cannot have its rows taken for a dead one's."""
    pending = registry.pending()
    if not pending:
        return 0
    alive = registry.live_writers()
    repaired = 0
    for record in pending:
        if record.writer in alive:
            continue
        live = keyword.document_version(record.collection, record.document_id)
        if live is not None and live == record.pending_version:
            settled = registry.finish(
                record.collection, record.document_id, filename=record.filename, size=record.size,
                sha256=record.sha256, version=live, pages=record.pages, metadata=record.metadata,
                chunk_count=keyword.count(record.collection, record.document_id), left_by=record.writer,
            )  # fmt: skip
        else:
            settled = registry.abandon(record.collection, record.document_id, left_by=record.writer)
        if not settled:  # another writer took the document over meanwhile: its work, not ours
            continue
        # Vectors of the versions that are not live are invisible already; now remove them (only those
        # two: a writer that takes the document over next writes a version of its own).
        for version in {record.version, record.pending_version} - {live, None}:
            store.delete_document(record.collection, record.document_id, only_version=version)
        repaired += 1
    if repaired:
        log.warning("recovered %d document(s) left half-written by a writer that is gone", repaired)
    return repaired
