"""A collection's synced sources as the API and the CLI manage them: add, list, show, remove, sync now, and the
scheduler that starts the syncs that are due.

A sync is always a job (ingest/jobs/sync_jobs.py), so it runs in whichever runner claims it, once: a source
with a sync queued or running gets that job back instead of a second one (the database holds one such job
per source: rag/storage/jobs `submit_sync`). The scheduler runs in every `rag serve` and `rag worker`; each
due sync is started by one of them (the source store's `take_due` is a compare-and-set on the next run
time) and run by one runner (the job's lease).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.connectors import connector_kinds
from ingest.jobs.sync_jobs import new_sync_job_id, source_workdir
from ingest.pipeline import IngestPipeline
from ingest.syncing import SOURCE_KEY
from rag.config import Settings
from rag.errors import Forbidden, InvalidInput, NotFound
from rag.storage.clock import now
from rag.storage.jobs import Job, JobStore
from rag.storage.sources import SourceRecord, SourceStore
from rag.validation import check_collection_name

log = logging.getLogger(__name__)
AWS_S3_HOST = "https://s3.amazonaws.com"  # what an s3 source without `endpoint_url` reaches

# (job id, collection, source id) -> the queued job, or the source's sync already queued or running
SubmitSync = Callable[[str, str, str], Job]
OPTION_NAMES = {"include", "exclude", "delete_on_remove", "max_items", "branch", "subfolder", "prefix",
                "endpoint_url", "region", "profile"}  # fmt: skip


class SyncedSources:
    def __init__(self, store: SourceStore, jobs: JobStore, submit: SubmitSync) -> None:
        self.store, self.jobs, self.submit = store, jobs, submit

    def add(
        self,
        collection: str,
        kind: str,
        location: str,
        options: dict[str, Any],
        interval_s: float | None,
        allowed_roots: list[Path] | None = None,
        allowed_hosts: list[str] | None = None,
    ) -> SourceRecord:
        return add_source(self.store, collection, kind, location, options, interval_s, allowed_roots, allowed_hosts)

    def sources(self, collection: str) -> list[SourceRecord]:
        return self.store.sources(collection)

    def get(self, collection: str, source_id: str) -> SourceRecord:
        record = self.store.get(source_id)
        if record is None or record.collection != collection:
            raise NotFound(f"source {source_id!r} not found in collection {collection!r}")
        return record

    def job(self, record: SourceRecord) -> Job | None:
        """The source's latest sync job, if it is still known."""
        return self.jobs.get(record.job_id) if record.job_id else None

    def sync(self, collection: str, source_id: str) -> Job:
        """Start a sync now; a sync already queued or running is returned instead of a second one."""
        record = self.get(collection, source_id)
        # The job store decides, atomically: callers racing on several replicas get the one job.
        job = self.submit(new_sync_job_id(record.id), record.collection, record.id)
        if job.id != record.job_id:
            self.store.update(record.id, job_id=job.id)
        return job

    def remove(self, collection: str, source_id: str, pipeline: IngestPipeline, keep_documents: bool = False) -> int:
        return remove_source(self.store, self.get(collection, source_id), pipeline, keep_documents)

    def start_due(self, at: float | None = None) -> list[Job]:
        """Start every sync whose time has come (one scheduler wins each run); their jobs."""
        at = time.time() if at is None else at
        started = []
        for record in self.store.sources():
            due = record.next_run_at
            if not record.interval_s or due is None or due > at:
                continue
            # The next run counts from now: a server that was down for a day syncs once, not once per interval.
            if not self.store.take_due(record.id, due, at + record.interval_s):
                continue  # another replica took it
            try:
                started.append(self.sync(record.collection, record.id))
            except Exception:
                log.exception("scheduled sync of source %s could not start", record.id)
        return started


def add_source(
    store: SourceStore,
    collection: str,
    kind: str,
    location: str,
    options: dict[str, Any],
    interval_s: float | None,
    allowed_roots: list[Path] | None = None,
    allowed_hosts: list[str] | None = None,
) -> SourceRecord:
    """A new source; with `allowed_roots` and `allowed_hosts` (API callers), a local path must lie under one
    of the roots and a web site or S3 endpoint be on one of the hosts: a key that may write a collection must
    not be able to copy the server's own files, or what it alone reaches on its network, into it."""
    check_collection_name(collection)
    location = check_source(kind, location, options, interval_s, allowed_roots, allowed_hosts)
    first_run = time.time() + interval_s if interval_s else None
    record = SourceRecord(
        id=new_source_id(), collection=collection, kind=kind, location=location, options=options,
        interval_s=interval_s, next_run_at=first_run, created_at=now(),
    )  # fmt: skip
    return store.add(record)


def new_source_id() -> str:
    return f"src-{uuid.uuid4().hex[:12]}"


def check_source(
    kind: str,
    location: str,
    options: dict[str, Any],
    interval_s: float | None,
    allowed_roots: list[Path] | None = None,
    allowed_hosts: list[str] | None = None,
) -> str:
    """Refuse a source this caller may not add or no connector can read (see `add_source`); its location,
    trimmed. Also what a bundle's sources pass before an import loads anything (ingest/bundles/sources.py)."""
    location = location.strip()
    if allowed_roots is not None:  # what a key may not reach is refused first, whatever else is wrong
        _check_local_path(kind, location, allowed_roots)
    if allowed_hosts is not None:
        _check_host(kind, location, options, allowed_hosts)
    if kind not in connector_kinds():
        raise InvalidInput(f"unknown source kind {kind!r}: one of {', '.join(connector_kinds())}")
    if not location:
        raise InvalidInput("a source needs a location (a path or a URL)")
    _check_location(kind, location)
    if interval_s is not None and interval_s < 1:
        raise InvalidInput("a schedule runs at most once a second (--every 1s or more)")
    check_options(options)
    return location


def remove_source(store: SourceStore, record: SourceRecord, pipeline: IngestPipeline, keep_documents: bool) -> int:
    """Forget the source and (unless `keep_documents`) remove the documents it put in the collection;
    returns how many were removed."""
    store.delete(record.id)
    removed = 0
    if not keep_documents:
        for document in pipeline.registry.documents(record.collection, status=None):
            if document.metadata.get(SOURCE_KEY) == record.id:
                try:
                    pipeline.delete_document(record.collection, document.document_id)
                    removed += 1
                except NotFound:
                    pass
    shutil.rmtree(source_workdir(pipeline.settings, record.id), ignore_errors=True)
    return removed


def forget_sources(store: SourceStore, settings: Settings, collection: str) -> None:
    """The collection's sources, their item state and work folders (a deleted or replaced collection's, or
    what an interrupted import created); their documents are the caller's business."""
    for record in store.sources(collection):
        store.delete(record.id)
        shutil.rmtree(source_workdir(settings, record.id), ignore_errors=True)


class SourceScheduler:
    """A thread that starts due syncs every `poll_s` until stopped (inside `rag serve` and `rag worker`)."""

    def __init__(self, sources: SyncedSources, poll_s: float) -> None:
        self.sources, self.poll_s = sources, poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="source-schedule", daemon=True)

    def start(self) -> SourceScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                for job in self.sources.start_due():
                    log.info("scheduled sync started: job %s", job.id)
            except Exception:  # a busy database: next time
                log.exception("source schedule check failed")


def _check_local_path(kind: str, location: str, roots: list[Path]) -> None:
    if kind == "folder":
        path = location
    elif kind == "git" and _local_git(location):
        path = location.removeprefix("file://")
    else:
        return
    resolved = Path(path).expanduser().resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(r) for r in roots) or "none (RAG_SOURCE_ROOTS is empty)"
        raise Forbidden(f"{kind} sources added over the API must lie under RAG_SOURCE_ROOTS: {allowed}")


def _local_git(location: str) -> bool:
    """A repository on this machine: a path or a file:// URL (anything else git reaches over a network)."""
    return location.startswith("file://") or "://" not in location and ":" not in location


def _git_host(location: str) -> str:
    """The host a git remote is fetched from: a URL's (https://, ssh://, git://) or scp-like user@host:path's."""
    if "://" in location:
        return urlsplit(location).hostname or ""
    return location.partition(":")[0].rpartition("@")[2]


def _check_location(kind: str, location: str) -> None:
    parts = urlsplit(location)
    if kind == "web" and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise InvalidInput(f"a web source's location is an http(s) URL (a start page or a sitemap), not {location!r}")
    if kind == "s3" and (parts.scheme != "s3" or not parts.netloc):
        raise InvalidInput(f"an s3 source's location is s3://bucket or s3://bucket/prefix, not {location!r}")


def _check_host(kind: str, location: str, options: dict[str, Any], patterns: list[str]) -> None:
    if kind == "web":
        host = urlsplit(location).hostname or ""
    elif kind == "s3":
        host = urlsplit(str(options.get("endpoint_url") or AWS_S3_HOST)).hostname or ""
    elif kind == "git" and not _local_git(location):
        host = _git_host(location)
    else:
        return
    if not any(fnmatchcase(host.lower(), pattern) for pattern in patterns):
        allowed = ", ".join(patterns) or "none (RAG_SOURCE_HOSTS is empty)"
        raise Forbidden(f"{kind} sources added over the API must be on a host of RAG_SOURCE_HOSTS: {allowed}")


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """A source's options, checked: known names, globs as lists of strings, a positive item limit."""
    unknown = set(options) - OPTION_NAMES
    if unknown:
        raise InvalidInput(
            f"unknown source option(s) {', '.join(sorted(unknown))}: use {', '.join(sorted(OPTION_NAMES))}"
        )
    for name in ("include", "exclude"):
        globs = options.get(name, [])
        if not isinstance(globs, list) or not all(isinstance(g, str) and g for g in globs):
            raise InvalidInput(f"{name} must be a list of glob patterns")
    limit = options.get("max_items")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise InvalidInput("max_items must be a positive whole number")
    return options
