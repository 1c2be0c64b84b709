"""A bundle's `sources.jsonl`: the collection's synced sources and their items' sync state, so an imported
collection stays in sync with them and its first sync reads only what changed since the export.

What travels: kind, location, options, schedule, the last sync's outcome, and per item its version marker and
the document it became. What does not: credentials (a URL's user and password are dropped: https tokens live
there; S3 keys were never stored, the target's own AWS profile or environment is used), the sync job, the git
clone (fetched again into the new source's own folder). Each source is checked on import as `rag sources add`
checks it (ingest/synced_sources.py: a known kind, valid options; over HTTP, RAG_SOURCE_ROOTS and
RAG_SOURCE_HOSTS too), before anything is written: one the importer may not add refuses the whole import.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ingest.bundles.archive import SOURCES, BundleRefused
from ingest.synced_sources import check_source, new_source_id
from ingest.syncing import SOURCE_KEY
from rag.access import current_scope
from rag.errors import RagError
from rag.storage.clock import now
from rag.storage.sources import ItemState, SourceRecord, SourceStore
from rag.storage.sources.types import COUNTS

_OWN_ID = re.compile(r"^src-[0-9a-f]{12}$")  # what add_source makes; anything else gets a new id
_STATUS = ("cursor", "last_sync_at", "last_status", "last_error", "created_at")


@dataclass
class BundledSource:
    record: SourceRecord  # under the exporting service's id until `assign_ids`
    items: list[ItemState] = field(default_factory=list)


def without_credentials(location: str) -> str:
    """The URL without its user and password (an https token is often the user); an ssh user stays, it is
    no secret (the key is)."""
    parts = urlsplit(location)
    if "://" not in location or "@" not in parts.netloc:
        return location
    user, _, host = parts.netloc.rpartition("@")
    kept = user.partition(":")[0] if parts.scheme in ("ssh", "git+ssh") else ""
    return urlunsplit(parts._replace(netloc=f"{kept}@{host}" if kept else host))


def write_sources(store: SourceStore, collection: str, document_ids: set[str], path: Path) -> int:
    """One line per source; only the sources (as GET .../sources shows them to the caller's key) and the
    items of the documents the bundle holds. Returns how many sources."""
    scope, written = current_scope(), 0
    with path.open("w", encoding="utf-8") as out:
        for record in store.sources(collection):
            if scope is not None and not scope.admits({SOURCE_KEY: record.id}):
                continue
            items = sorted(
                ([s.key, s.marker, s.document_id] for s in store.items(record.id).values()
                 if s.document_id in document_ids),
                key=lambda row: str(row[0]),
            )  # fmt: skip
            options = dict(record.options)
            if isinstance(options.get("endpoint_url"), str):
                options["endpoint_url"] = without_credentials(options["endpoint_url"])
            row = {
                "id": record.id, "kind": record.kind, "location": without_credentials(record.location),
                "options": options, "interval_s": record.interval_s, **{n: getattr(record, n) for n in _STATUS},
                "counts": record.counts, "items": items,
            }  # fmt: skip
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            written += 1
    return written


def read_sources(
    folder: Path,
    document_ids: set[str],
    allowed_roots: list[Path] | None = None,
    allowed_hosts: list[str] | None = None,
) -> list[BundledSource]:
    """The bundle's sources, each checked as if added now by this caller; none from a version-1 bundle."""
    path = folder / SOURCES
    if not path.is_file():
        return []
    found = []
    for number, line in enumerate(path.open(encoding="utf-8"), start=1):
        try:
            found.append(_source(json.loads(line), document_ids))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BundleRefused(f"line {number} of the bundle's sources.jsonl is not a source ({exc})") from exc
    for bundled in found:
        record = bundled.record
        try:
            check_source(record.kind, record.location, record.options, record.interval_s, allowed_roots,
                         allowed_hosts)  # fmt: skip
        except RagError as exc:  # the same status (403 for a path or host the caller may not reach), and why
            raise type(exc)(
                f"the bundle's {record.kind} source {record.location!r} cannot be imported here: {exc.message}"
                " (nothing was imported)"
            ) from exc
    return found


def _source(row: dict[str, Any], document_ids: set[str]) -> BundledSource:
    interval = row.get("interval_s")
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int | float)):
        raise TypeError("interval_s is not a number")
    if not isinstance(row["options"], dict):
        raise TypeError("options is not an object")
    record = SourceRecord(
        id=str(row["id"]), collection="", kind=str(row["kind"]), location=str(row["location"]),
        options=row["options"], interval_s=interval,
        **{n: None if row.get(n) is None else str(row[n]) for n in _STATUS},
        **{n: int(row.get("counts", {}).get(n, 0)) for n in COUNTS},
    )  # fmt: skip
    items = []
    for key, marker, document_id in row["items"]:
        if document_id in document_ids:  # an item naming no document of the bundle is synced afresh
            items.append(ItemState(str(key), None if marker is None else str(marker), str(document_id)))
    return BundledSource(record, items)


def assign_ids(store: SourceStore, bundled: list[BundledSource]) -> dict[str, str]:
    """Each source keeps its id where this service has no source by it (a move), else gets a new one (a copy
    beside the original); {bundle's id: id here}. Its documents keep their ids: the sync engine follows an
    item's recorded document, and their `source_id` metadata is remapped on load."""
    ids = {}
    for source in bundled:
        own = source.record.id
        free = _OWN_ID.match(own) and own not in ids.values() and store.get(own) is None
        ids[own] = own if free else new_source_id()
    return ids


def remap_source(metadata: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    source_id = metadata.get(SOURCE_KEY)
    if isinstance(source_id, str) and ids.get(source_id, source_id) != source_id:
        return {**metadata, SOURCE_KEY: ids[source_id]}
    return metadata


def create_sources(store: SourceStore, collection: str, bundled: list[BundledSource], ids: dict[str, str]) -> int:
    """The sources on `collection`, their schedules counting from now (the next run is one interval away)."""
    for source in bundled:
        record, source_id = source.record, ids[source.record.id]
        store.add(SourceRecord(
            id=source_id, collection=collection, kind=record.kind, location=record.location, options=record.options,
            interval_s=record.interval_s, next_run_at=time.time() + record.interval_s if record.interval_s else None,
            created_at=record.created_at or now(),
        ))  # fmt: skip
        status = {n: getattr(record, n) for n in (*_STATUS[:-1], *COUNTS)}
        store.update(source_id, **status)
        for item in source.items:
            store.put_item(source_id, item.key, item.marker, item.document_id)
    return len(bundled)
