"""Ingestion jobs: the `Job` record and the `JobStore` protocol every engine implements.

Any number of runners (the thread inside `rag serve`, `rag worker` processes) share one store. A runner
claims a job atomically, heartbeats while it works, and writes progress only while it still holds the
job; a job whose heartbeat is older than the lease is claimable again, so the job of a runner that died
(kill -9 included) is taken over by another. Ingestion is idempotent (deterministic document and chunk
ids), so the taker simply runs the whole job again: files already stored come back `unchanged`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

ACTIVE = ("queued", "running")


@dataclass
class Job:
    id: str
    collection: str
    status: str  # queued | running | done | failed | cancelled (its collection was deleted)
    files_total: int
    files_done: int
    chunks_done: int
    results: list[dict[str, Any]]
    error: str | None
    created_at: str
    updated_at: str
    worker: str | None = None  # the runner holding it while `running`
    heartbeat_at: float | None = None  # Unix time of its runner's last heartbeat
    takeovers: int = 0  # times it was claimed again after its runner went silent
    ocr_pages_done: int = 0  # scanned pages (and images) read by OCR so far
    ocr_pages_total: int = 0  # ... of those to read in the files opened so far
    source_id: str | None = None  # a sync job's source (ingest/jobs/sync_jobs.py); None for an upload

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["status"] == "failed"]


class JobStore(Protocol):
    """Jobs shared by every runner. Writes that name a `worker` only take effect while it holds the job."""

    def submit(self, job_id: str, collection: str, files_total: int) -> Job: ...
    def submit_sync(self, job_id: str, collection: str, source_id: str) -> Job:
        """Queue sync job `job_id` of `source_id`, or return the source's sync job already queued or running.
        The database holds at most one such job per source (a unique index), so callers racing on any
        number of replicas and workers all get the same job."""
        ...

    def get(self, job_id: str) -> Job | None: ...
    def claim(self, worker: str, lease_s: float, max_takeovers: int) -> Job | None:
        """The oldest queued job, or a running one whose heartbeat is older than `lease_s`, now held by
        `worker`; None when there is none. A job taken over more than `max_takeovers` times fails instead."""
        ...

    def heartbeat(self, job_id: str, worker: str) -> bool:
        """False when `worker` no longer holds the job (another took it over): it must stop."""
        ...

    def record(self, job_id: str, worker: str, **fields: Any) -> bool: ...
    def release(self, job_id: str, worker: str) -> bool:
        """Hand a job back to the queue (a runner stopping cleanly)."""
        ...

    def requeue_running(self) -> int:
        """Queue again every running job: only for a process that knows no other runner exists."""
        ...

    def active_ids(self) -> list[str]: ...
    def pending(self) -> int: ...
    def fail(self, job_id: str, error: str) -> None: ...
    def cancel_collection(self, collection: str, reason: str) -> int:
        """Cancel the collection's queued and running jobs (it is being deleted); how many. A runner holding
        one no longer does: its next heartbeat or progress write tells it to stop."""
        ...
