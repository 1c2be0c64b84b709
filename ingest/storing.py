"""The last step of an ingest, and deletion: documents into (and out of) Chroma, the keyword index, the registry
and the originals, each document under its own lock so two writers of one document take turns.

Vectors of a group of documents go to Chroma in one upsert (each call has a fixed cost of ~20 ms); each
document then becomes visible in one step (the keyword index transaction, see rag/retrieval/keyword.py).
Before that the registry marks it pending under this process's writer lease, so a crash in between leaves
a row that ingest/recovery.py repairs.
"""

from __future__ import annotations

import contextlib
import logging
import threading

import numpy as np

from ingest.ocr_words import OCR_WORDS, ocr_words_json
from ingest.preparing import PreparedDocument
from ingest.sources import ATTACHED_TO, FileResult, failed_result, unchanged_result
from rag.errors import NotFound, RagError
from rag.retrieval.keyword import KeywordIndex
from rag.storage.originals import OriginalStore
from rag.storage.registry.types import DocumentRecord, Registry
from rag.storage.vectors import VectorStore

log = logging.getLogger(__name__)

COLLECTION_GONE = "not stored: the collection was deleted while this file was being ingested"
Encoded = tuple[int, PreparedDocument, np.ndarray]  # (the source's place in its batch, document, its vectors)


class DocumentWriter:
    """Writes prepared documents and deletes stored ones, keeping the three stores and the originals in step."""

    def __init__(self, store: VectorStore, keyword: KeywordIndex, registry: Registry, originals: OriginalStore) -> None:
        self.store = store
        self.keyword = keyword
        self.registry = registry
        self.originals = originals
        self._doc_locks: dict[tuple[str, str], threading.Lock] = {}
        self._collection_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def write_group(self, items: list[Encoded]) -> list[tuple[int, FileResult]]:
        """Store a group of documents: one vector upsert for all (each call costs ~20 ms in Chroma, whatever
        its size), then each document made live on its own, so one failure still fails alone.

        A message's attachments are documents of their own, made live before it, and the attachments an older
        version of it had are deleted just before it goes live: the message going live is the last step, so
        a crash before it leaves the older version live and the same file ingested again redoes the rest."""
        parts = [part for entry in items for part in _with_attachments(entry)]
        collection = next((item.chunks[0].collection for _, item, _, _ in parts if item.chunks), None)
        with contextlib.ExitStack() as held:
            if collection is not None:
                held.enter_context(self._collection_lock(collection))
                # The ingest created it: gone now means deleted meanwhile, and writing would bring it back
                # with half of this ingest in it. (In this process the lock orders this check and the delete;
                # a `rag worker` beside a Chroma server checks at each group, and its job is cancelled.)
                if self.registry.collection(collection) is None:
                    return [
                        (index, failed_result(item.source.filename, item.document_id, COLLECTION_GONE, 409))
                        for index, item, _, attached in parts if not attached
                    ]  # fmt: skip
            # Sorted, so two ingests that share documents cannot deadlock.
            keys = {(item.chunks[0].collection, item.document_id) for _, item, _, _ in parts if item.chunks}
            for key in sorted(keys):
                held.enter_context(self.lock_for(*key))
            done: list[tuple[int, FileResult]] = []
            todo: list[tuple[int, PreparedDocument, np.ndarray, DocumentRecord | None, bool]] = []
            for index, item, vectors, attached in parts:
                if not item.chunks:
                    if not attached:
                        result = failed_result(item.source.filename, item.document_id, "no text to index", 422)
                        done.append((index, result))
                    continue
                existing = self.registry.get(item.chunks[0].collection, item.document_id)
                if existing and existing.version == item.version and existing.metadata == item.source.metadata:
                    if not attached:
                        done.append((index, unchanged_result(item.source.filename, item.document_id, existing)))
                    continue
                self.registry.begin(
                    item.chunks[0].collection, item.document_id, item.source.filename, item.source.size,
                    item.data_sha, item.version, item.source.metadata, self.registry.writer_lease(),
                )  # fmt: skip
                todo.append((index, item, vectors, existing, attached))
            try:
                if todo:
                    self.store.upsert(
                        todo[0][1].chunks[0].collection,
                        [c for _, item, _, _, _ in todo for c in item.chunks],
                        np.concatenate([vectors for _, _, vectors, _, _ in todo]),
                    )
            except Exception as exc:
                log.exception("failed to store %d document(s)", len(todo))
                for index, item, _, existing, attached in todo:
                    result = self._undo(item, existing, exc)
                    if not attached:
                        done.append((index, result))
                return done
            held_ids = {document_id for _, document_id in keys}
            for index, item, _, existing, attached in todo:
                collection = item.chunks[0].collection
                try:
                    # those an older version had (a new message has none: it skips the scan of the collection)
                    if item.attachments is not None and existing is not None:
                        current = {a.document_id for a in item.attachments}
                        self._delete_attachments(collection, item.document_id, current, held_ids)
                    result = self._make_live(item, existing)
                except Exception as exc:
                    log.exception("failed to store %s", item.source.filename)
                    result = self._undo(item, existing, exc)
                    if item.attachments is not None and existing is None:  # no message: its attachments go too
                        self._delete_attachments(collection, item.document_id, set(), held_ids)
                if not attached:
                    done.append((index, result))  # an attachment that failed is logged, its message goes on
        return done

    def _make_live(self, item: PreparedDocument, existing: DocumentRecord | None) -> FileResult:
        source, collection = item.source, item.chunks[0].collection
        # Kept before the document goes live, so a live document always has its original (for page images).
        self.originals.save(collection, item.data_sha, source.read())
        if item.document.ocr_pages:  # so the citation view can outline a quote on a scanned page
            self.originals.save(collection, item.data_sha, ocr_words_json(item.document.ocr_pages), OCR_WORDS)
        self.keyword.replace_document(collection, item.document_id, item.version, item.chunks)
        pages = item.document.page_count
        self.registry.finish(
            collection, item.document_id, filename=source.filename, size=source.size, sha256=item.data_sha,
            version=item.version, chunk_count=len(item.chunks), pages=pages, metadata=source.metadata,
        )  # fmt: skip
        if existing is not None:  # a new document has no older vectors to remove
            self.store.delete_document(collection, item.document_id, keep_version=item.version)
            if existing.sha256 != item.data_sha:
                self.originals.discard(collection, existing.sha256, self._shas_in_use(collection))
        return FileResult(source.filename, item.document_id, "ingested", len(item.chunks), pages)

    def _undo(self, item: PreparedDocument, existing: DocumentRecord | None, exc: Exception) -> FileResult:
        collection, kept = item.chunks[0].collection, existing.version if existing else None
        try:
            self.store.delete_document(collection, item.document_id, keep_version=kept)
        finally:
            self.registry.abandon(collection, item.document_id)
        status = exc.status_code if isinstance(exc, RagError) else 500
        return failed_result(item.source.filename, item.document_id, f"storage failed: {exc}", status)

    def delete_document(self, collection: str, document_id: str) -> None:
        """Delete the document and the attachments that came in it (those first: a crash in between leaves the
        message, so deleting it again finishes the work)."""
        record = self.registry.get(collection, document_id)
        if record is None:
            raise NotFound(f"document {document_id!r} not found in collection {collection!r}")
        if _may_hold_attachments(record):
            self._delete_attachments(collection, document_id, set(), set())
        with self.lock_for(collection, document_id):
            self._delete_one(collection, document_id)

    def delete_orphan_attachments(self, collection: str) -> int:
        """Delete attachments whose message is gone (a writer died after storing them, before the message);
        returns how many."""
        records = self.registry.documents(collection, status=None)
        ids = {r.document_id for r in records}
        orphans = [r for r in records if (m := r.metadata.get(ATTACHED_TO)) not in ids and is_attachment_of(r, m)]
        for record in orphans:
            with self.lock_for(collection, record.document_id):
                self._delete_one(collection, record.document_id)
        return len(orphans)

    def _delete_one(self, collection: str, document_id: str) -> None:
        """Delete one document; the caller holds its lock."""
        record = self.registry.get(collection, document_id)
        self.keyword.delete_document(collection, document_id)
        self.store.delete_document(collection, document_id)
        self.registry.delete(collection, document_id)
        if record is not None:
            self.originals.discard(collection, record.sha256, self._shas_in_use(collection))

    def _delete_attachments(self, collection: str, message_id: str, keep: set[str], held: set[str]) -> None:
        """Delete the attachment documents of `message_id` but those in `keep` (its current ones); `held`: ids
        whose locks the caller holds already."""
        for record in self.registry.documents(collection, status=None):
            if is_attachment_of(record, message_id) and record.document_id not in keep:
                held_already = record.document_id in held
                with contextlib.nullcontext() if held_already else self.lock_for(collection, record.document_id):
                    self._delete_one(collection, record.document_id)

    def delete_collection(self, collection: str) -> None:
        """After any group being written into it has finished (a group writing meanwhile would recreate it)."""
        with self._collection_lock(collection):
            if self.registry.collection(collection) is None:
                raise NotFound(f"collection {collection!r} not found")
            self.keyword.delete_collection(collection)
            self.store.delete_collection(collection)
            self.registry.delete_collection(collection)
            self.originals.discard_collection(collection)

    def _shas_in_use(self, collection: str) -> set[str]:
        return {r.sha256 for r in self.registry.documents(collection, status=None)}

    def _collection_lock(self, collection: str) -> threading.Lock:
        """Held while a group is written into the collection and while it is deleted, never inside a
        document's lock (write_group takes it first), so the two kinds cannot deadlock."""
        with self._locks_guard:
            return self._collection_locks.setdefault(collection, threading.Lock())

    def lock_for(self, collection: str, document_id: str) -> threading.Lock:
        """The lock one document is written and deleted under, within this process."""
        with self._locks_guard:
            return self._doc_locks.setdefault((collection, document_id), threading.Lock())


def is_attachment_of(record: DocumentRecord, message_id: object) -> bool:
    """Whether the document came in `message_id`: linked to it, and named under it (so metadata a user set by
    hand cannot make a delete take other documents with it)."""
    if not isinstance(message_id, str) or record.metadata.get(ATTACHED_TO) != message_id:
        return False
    return record.document_id.startswith(f"{message_id}/")


def _may_hold_attachments(record: DocumentRecord) -> bool:
    """Only e-mails hold attachments: other deletes skip the scan of the collection's documents."""
    return any(name.lower().endswith(".eml") for name in (record.filename, record.document_id))


def _with_attachments(entry: Encoded) -> list[tuple[int, PreparedDocument, np.ndarray, bool]]:
    """The entry's attachments, then the entry itself (each with its own vectors, and whether it is an
    attachment): the order they are made live in."""
    index, item, vectors = entry
    parts, offset = [], len(item.chunks)
    for attachment in item.attachments or []:
        parts.append((index, attachment, vectors[offset : offset + len(attachment.chunks)], True))
        offset += len(attachment.chunks)
    return [*parts, (index, item, vectors[: len(item.chunks)], False)]
