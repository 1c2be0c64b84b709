"""The sync engine: make a collection hold exactly what a source holds now, touching nothing else.

Each sync lists the source's items, compares their markers with those stored for the last sync, ingests
new and changed items through the same pipeline uploads take (each document replaced atomically, a bad
item failing alone), and removes the documents of items the source no longer holds. Unchanged items are
not read at all. Crash safety comes from the order of writes: an item's state row (no marker) is written
before its document, and settled (its marker) after; a sync killed anywhere leaves rows that the next one
finds, so it re-ingests or removes their documents (the pipeline's recovery undoes a half-written one) and
ends in the state a clean sync would reach: no duplicate (document ids are deterministic), no orphan.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import PurePosixPath

from ingest.connectors import Connector, Item
from ingest.names import clean_name
from ingest.pipeline import FileResult, IngestPipeline, IngestStopped, Source
from ingest.sources import ATTACHED_TO
from rag.errors import NotFound
from rag.storage.sources import SourceRecord, SourceStore
from rag.storage.sources.types import COUNTS
from rag.validation import MAX_STRING_VALUE

SOURCE_KEY = "source_id"  # metadata of every synced document: which source put it there
ORIGIN_KEY = "origin"  # and where a person opens the original

Progress = Callable[[FileResult], None]


@dataclass
class SyncReport:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    results: list[FileResult] = field(default_factory=list)  # every item read or removed (not the unchanged)
    listed: int = 0
    cursor: str | None = None

    @property
    def failures(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "failed"]


def document_id_for(source_id: str, key: str) -> str:
    """The document an item becomes: the same at every sync, so re-ingesting it replaces it."""
    return clean_name(f"{source_id}/{key}")


def select_items(items: Iterable[Item], options: dict[str, object]) -> list[Item]:
    """The items the source's include/exclude globs keep (matched against the item's key, `*` crossing
    folders), sorted by key and cut at `max_items`."""
    include = [str(p) for p in options.get("include") or []]  # type: ignore[attr-defined]
    exclude = [str(p) for p in options.get("exclude") or []]  # type: ignore[attr-defined]

    def wanted(key: str) -> bool:
        name = PurePosixPath(key).name
        matches = lambda patterns: any(fnmatchcase(key, p) or fnmatchcase(name, p) for p in patterns)  # noqa: E731
        return (not include or matches(include)) and not matches(exclude)

    kept = sorted((i for i in items if wanted(i.key)), key=lambda i: i.key)
    limit = options.get("max_items")
    return kept[: int(limit)] if isinstance(limit, int) and limit > 0 else kept


def sync_source(
    record: SourceRecord,
    connector: Connector,
    pipeline: IngestPipeline,
    store: SourceStore,
    progress: Progress | None = None,
    on_listed: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> SyncReport:
    """One sync of `record` into its collection; raises `SourceUnavailable` (nothing changed) when the source
    cannot be listed, `IngestStopped` when `stop` is set (the next sync finishes the work)."""
    pipeline.recover()  # documents a killed sync left half-written
    listed = select_items(connector.list_items(), record.options)
    report = SyncReport(listed=len(listed), cursor=connector.cursor)
    known = store.items(record.id)
    live = {d.document_id for d in pipeline.registry.documents(record.collection)}
    if on_listed:
        on_listed(len(listed) + len(known.keys() - {i.key for i in listed}))
    guard = threading.Lock()

    def done(result: FileResult, count: str) -> None:
        with guard:
            report.counts[count] += 1
            if count != "unchanged":
                report.results.append(result)
        if progress:
            progress(result)

    todo: dict[str, tuple[Item, bool]] = {}  # document id -> (item, new to the collection)
    for item in listed:
        state = known.get(item.key)
        # An item keeps the document it became: one an imported bundle brought (under the source's id in the
        # exporting service, ingest/bundles/sources.py) is compared, replaced and removed like one synced here.
        document_id = state.document_id if state else document_id_for(record.id, item.key)
        if state and state.marker == item.marker and state.document_id in live:
            done(FileResult(item.key, document_id, "unchanged"), "unchanged")  # not read
        else:
            todo[document_id] = (item, document_id not in live)
    for document_id, (item, _) in todo.items():  # before the documents: a crash now leaves no orphan
        store.put_item(record.id, item.key, None, document_id)

    def settled(result: FileResult) -> None:
        item, new = todo[result.document_id]
        if result.status == "failed":  # its row keeps no marker: the next sync tries again
            done(FileResult(item.key, result.document_id, "failed", reason=result.reason), "failed")
            return
        store.put_item(record.id, item.key, item.marker, result.document_id)
        count = "unchanged" if result.status == "unchanged" else "added" if new else "changed"
        done(FileResult(item.key, result.document_id, count, result.chunks, result.pages), count)

    sources = [_source(record, connector, item, document_id) for document_id, (item, _) in todo.items()]
    if sources:
        pipeline.ingest(sources, record.collection, progress=settled, background=True, stop=stop)
    _remove_gone(record, pipeline, store, {i.key for i in listed}, done, stop)
    return report


def _source(record: SourceRecord, connector: Connector, item: Item, document_id: str) -> Source:
    metadata = {SOURCE_KEY: record.id, ORIGIN_KEY: item.origin[:MAX_STRING_VALUE]}
    name = PurePosixPath(item.key).name or item.key
    return Source(name, _read_once(lambda: connector.read(item)), item.size, document_id, metadata, kind=item.kind)


def _read_once(read: Callable[[], bytes]) -> Callable[[], bytes]:
    """The item's bytes, fetched once: ingestion reads a source twice (to parse it, then to keep its original),
    and a second fetch from a connector costs a request (a web page was fetched twice) and may return bytes
    other than those indexed. Kept from the first read to the second, then let go."""
    kept: list[bytes] = []

    def read_kept() -> bytes:
        if kept:
            return kept.pop()
        data = read()
        kept.append(data)
        return data

    return read_kept


def _remove_gone(
    record: SourceRecord,
    pipeline: IngestPipeline,
    store: SourceStore,
    listed: set[str],
    done: Callable[[FileResult, str], None],
    stop: threading.Event | None,
) -> None:
    """Documents of items the source no longer holds go (unless the source keeps them); then any document
    this source put in the collection that no item state names (belt and braces: none should exist)."""
    remove = record.options.get("delete_on_remove", True)
    for key, state in store.items(record.id).items():
        if key in listed:
            continue
        if stop is not None and stop.is_set():
            raise IngestStopped("sync stopped before its end")
        if remove:
            _delete(pipeline, record.collection, state.document_id)
            done(FileResult(key, state.document_id, "removed"), "removed")
        store.delete_item(record.id, key)
    if remove:
        named = {s.document_id for s in store.items(record.id).values()}
        for document in pipeline.registry.documents(record.collection, status=None):
            attachment = ATTACHED_TO in document.metadata  # goes with its message
            if document.metadata.get(SOURCE_KEY) == record.id and document.document_id not in named and not attachment:
                _delete(pipeline, record.collection, document.document_id)


def _delete(pipeline: IngestPipeline, collection: str, document_id: str) -> None:
    try:
        pipeline.delete_document(collection, document_id)
    except NotFound:  # removed already (by a sync cut off after it, or by hand)
        pass
