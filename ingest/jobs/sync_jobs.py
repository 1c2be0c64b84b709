"""Sync jobs: a source's sync run by the same runners as upload jobs (the thread in `rag serve`, `rag worker`),
so it has progress, a lease, and is taken over when its runner dies. The job's id names its source."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ingest.connectors import ConnectorContext, open_connector
from ingest.pipeline import FileResult, IngestPipeline
from ingest.syncing import SyncReport, sync_source
from rag.config import Settings
from rag.errors import RagError
from rag.storage.clock import now
from rag.storage.jobs import Job
from rag.storage.sources import SourceRecord, SourceStore, open_source_store

SYNC_PREFIX = "sync-"
PROGRESS_EVERY_S = 0.5  # a 10,000-item sync writes its progress this often, not 10,000 times
MAX_ERROR_CHARS = 2000


def new_sync_job_id(source_id: str) -> str:
    return f"{SYNC_PREFIX}{source_id}-{uuid.uuid4().hex[:12]}"


def is_sync_job(job_id: str) -> bool:
    return job_id.startswith(SYNC_PREFIX)


def source_of(job_id: str) -> str:
    return job_id.removeprefix(SYNC_PREFIX).rsplit("-", 1)[0]


def source_workdir(settings: Settings, source_id: str) -> Path:
    """A folder of the source's own in the data dir (a git connector keeps its clone there)."""
    return settings.data_dir / "sources" / source_id


def run_sync(
    record: SourceRecord,
    pipeline: IngestPipeline,
    store: SourceStore,
    progress: Callable[[FileResult], None] | None = None,
    on_listed: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> SyncReport:
    """Sync `record` and write its outcome on the source (last sync, counts, error); raises what the sync
    raised (a source that cannot be listed: `SourceUnavailable`) after recording it."""
    context = ConnectorContext(record.id, source_workdir(pipeline.settings, record.id), record.cursor)
    try:
        connector = open_connector(record.kind, record.location, record.options, context)
        report = sync_source(record, connector, pipeline, store, progress, on_listed, stop)
    except RagError as exc:
        store.update(record.id, last_sync_at=now(), last_status="failed", last_error=exc.message[:MAX_ERROR_CHARS])
        raise
    failures = report.failures
    error = "; ".join(f"{r.filename}: {r.reason}" for r in failures)[:MAX_ERROR_CHARS] or None
    store.update(
        record.id, last_sync_at=now(), last_status="done", last_error=error, cursor=report.cursor, **report.counts
    )
    return report


def run_sync_job(
    job: Job, pipeline: IngestPipeline, record: Callable[..., bool], stop: threading.Event
) -> dict[str, Any]:
    """Run the sync job `job`; returns the job's final fields. `record` writes the job's progress."""
    store = open_source_store(pipeline.settings)
    source = store.get(source_of(job.id))
    if source is None:
        return {"status": "failed", "error": "the source was removed before its sync ran"}
    if source.job_id != job.id:  # two callers that started syncs one after the other may have written theirs late
        store.update(source.id, job_id=job.id)
    seen: list[FileResult] = []
    done = [0]
    last = [0.0]
    guard = threading.Lock()

    def progress(result: FileResult) -> None:
        with guard:
            done[0] += 1
            if result.status != "unchanged":
                seen.append(result)
            if time.monotonic() - last[0] >= PROGRESS_EVERY_S:
                last[0] = time.monotonic()
                record(**_fields(done[0], seen))

    try:
        report = run_sync(source, pipeline, store, progress, lambda total: record(files_total=total), stop)
    except RagError as exc:
        return {"status": "failed", "error": exc.message[:MAX_ERROR_CHARS]}
    return {"status": "done", **_fields(done[0], report.results), "error": None}


def _fields(done: int, results: list[FileResult]) -> dict[str, Any]:
    return {
        "files_done": done,
        "chunks_done": sum(r.chunks for r in results),
        "results": json.dumps([asdict(r) for r in results]),
    }
