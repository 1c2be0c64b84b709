"""Uploads staged on disk and the runners of background ingestion jobs.

An upload is copied to `<staging>/<job>/` (RAG_STAGING_DIR, by default `<data>/uploads`) under a
generated name (the client's filename is kept only as metadata, never used as a path), with a manifest
of the staged files beside them; the job row lives in a JobStore (rag/storage/jobs/). Any runner that
reads the staging folder can run the job: the thread inside `rag serve` (JobQueue) or `rag worker`
processes (JobRunner in a loop). A runner that dies is replaced after the lease: ingestion is
idempotent, so files already stored come back `unchanged`, and each document becomes visible atomically.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from ingest.jobs.sync_jobs import is_sync_job, run_sync_job
from ingest.pipeline import FileResult, IngestPipeline, IngestStopped, Source
from rag.config import Settings
from rag.priority import lower_this_thread
from rag.storage.jobs import Job, JobStore, open_job_store
from rag.storage.jobs.sqlite import SqliteJobStore

__all__ = ["Job", "JobQueue", "JobRunner", "StagedFile", "stage", "worker_id"]

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
T = TypeVar("T")


@dataclass
class StagedFile:
    path: str
    filename: str
    document_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    kind: str | None = None  # a file name whose extension picks the loader (text uploads)

    def source(self) -> Source:
        path = Path(self.path)
        return Source(self.filename, path.read_bytes, path.stat().st_size, self.document_id, self.metadata, self.kind)


def stage(directory: Path, index: int, filename: str, stream: BinaryIO, **kwargs: Any) -> StagedFile:
    """Copy an upload to disk in pieces (never whole into memory) under a generated name."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = re.sub(r"[^a-z0-9.]", "", Path(filename).suffix.lower())[:10]
    path = directory / f"{index:05d}{suffix}"
    with path.open("xb") as out:
        shutil.copyfileobj(stream, out, 1024 * 1024)
    return StagedFile(str(path), filename, **kwargs)


def read_manifest(directory: Path) -> list[StagedFile]:
    """The staged files of a job, found in `directory` whatever path the stager saw it under (a worker may
    mount the shared staging folder elsewhere)."""
    files = [StagedFile(**f) for f in json.loads((directory / MANIFEST).read_text())]
    for staged in files:
        staged.path = str(directory / Path(staged.path).name)
    return files


def worker_id() -> str:
    """A runner's name in the job rows: which machine and process holds a job."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class JobRunner:
    """Claims jobs from the store and runs them through the pipeline, one at a time.

    While a job runs, a heartbeat thread renews the lease every third of it; setting `stop` (shutdown,
    SIGTERM) ends the job between encoder batches and hands it back to the queue. A runner that finds its
    lease gone (it stalled, and another runner took the job over) stops too and leaves the job alone."""

    def __init__(
        self,
        pipeline: IngestPipeline,
        store: JobStore,
        staging_dir: Path,
        stop: threading.Event,
        lease_s: float = 60.0,
        max_takeovers: int = 3,
        worker: str | None = None,
    ) -> None:
        self.pipeline, self.store, self.staging_dir, self.stop = pipeline, store, staging_dir, stop
        self.lease_s, self.max_takeovers = lease_s, max_takeovers
        self.worker = worker or worker_id()

    def run_next(self) -> Job | None:
        """Claim one job and run it; the job as it ended, or None when no job was waiting."""
        if self.stop.is_set():
            return None
        job = self.store.claim(self.worker, self.lease_s, self.max_takeovers)
        if job is None:
            return None
        how = f"taken over (runner silent for over {self.lease_s:g} s)" if job.takeovers else "claimed"
        log.info("job %s %s by %s: %d file(s) into %r", job.id, how, self.worker, job.files_total, job.collection)
        try:
            self._run(job)
        except Exception as exc:  # a job must never kill its runner
            log.exception("job %s failed", job.id)
            self.store.record(job.id, self.worker, status="failed", error=f"{type(exc).__name__}: {exc}")
        return self.store.get(job.id)

    def _run(self, job: Job) -> None:
        if is_sync_job(job.id):
            record = functools.partial(self.store.record, job.id, self.worker)
            fields = self._held(job, lambda abort: run_sync_job(job, self.pipeline, record, abort))
            if fields is not None:
                self.store.record(job.id, self.worker, **fields)
            return
        directory = self.staging_dir / job.id
        if not (directory / MANIFEST).is_file():
            self.store.record(job.id, self.worker, status="failed", error="uploaded files were lost before the job ran")
            return
        files = read_manifest(directory)
        self.pipeline.recover()  # documents a dead runner of this job left half-written
        results: list[FileResult] = []
        guard = threading.Lock()  # progress arrives from the pipeline's reader and writer threads

        def progress(result: FileResult) -> None:
            with guard:
                results.append(result)
                self.store.record(job.id, self.worker, **_progress(results))

        scanned: dict[int, tuple[int, int]] = {}  # file index -> (pages OCR read, pages to read)

        def page_read(index: int, done: int, total: int) -> None:
            with guard:
                scanned[index] = (done, total)
                self.store.record(
                    job.id, self.worker, ocr_pages_done=sum(d for d, _ in scanned.values()),
                    ocr_pages_total=sum(t for _, t in scanned.values()),
                )  # fmt: skip

        # In the background: uploads and answers waiting for the encoder go first.
        final = self._held(
            job,
            lambda abort: self.pipeline.ingest(
                [f.source() for f in files], job.collection, progress=progress, background=True, stop=abort,
                pages=page_read,
            ),
        )  # fmt: skip
        if final is not None and self.store.record(job.id, self.worker, status="done", **_progress(final)):
            shutil.rmtree(directory, ignore_errors=True)
            failed = sum(r.status == "failed" for r in final)
            log.info("job %s done: %d file(s), %d failed", job.id, len(final), failed)
        elif self._cancelled(job.id):  # no runner will need its files
            shutil.rmtree(directory, ignore_errors=True)
            log.info("job %s stopped: cancelled, its collection was deleted", job.id)
        elif final is not None:  # another runner holds it now and still needs the staged files
            log.warning("job %s finished here after another runner took it over; left to that one", job.id)

    def _cancelled(self, job_id: str) -> bool:
        job = self.store.get(job_id)
        return job is not None and job.status == "cancelled"

    def _held(self, job: Job, work: Callable[[threading.Event], T]) -> T | None:
        """`work(abort)` while a heartbeat keeps the job ours; None when it stopped (shutdown, or the job was
        taken over), the job handed back to the queue if still ours."""
        abort, finished = threading.Event(), threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job.id, abort, finished), daemon=True, name="job-beat")
        beat.start()
        try:
            return work(abort)
        except IngestStopped:
            if self.store.release(job.id, self.worker):
                log.info("job %s stopped: handed back to the queue", job.id)
            elif not self._cancelled(job.id):
                log.warning("job %s was taken over by another runner; this one stopped", job.id)
            return None
        finally:
            finished.set()
            beat.join()

    def _heartbeat(self, job_id: str, abort: threading.Event, finished: threading.Event) -> None:
        interval = self.lease_s / 3
        last = time.monotonic()
        while not finished.wait(0.2):
            if self.stop.is_set():
                abort.set()
            if time.monotonic() - last < interval:
                continue
            last = time.monotonic()
            try:
                held = self.store.heartbeat(job_id, self.worker)
            except Exception:  # a busy or unreachable database: try again next time, the lease has room
                log.exception("job %s: heartbeat failed", job_id)
                continue
            if not held:
                log.warning("job %s: lease lost (another runner took it over); stopping", job_id)
                abort.set()


def _progress(results: list[FileResult]) -> dict[str, Any]:
    return {
        "files_done": len(results),
        "chunks_done": sum(r.chunks for r in results),
        "results": json.dumps([asdict(r) for r in results]),
    }


class JobQueue:
    """What `rag serve` uses: submits jobs, and (unless serving only) runs them in a background thread.

    `exclusive`: this process owns the data directory (embedded Chroma), so no other runner can exist and
    jobs left `running` by a previous start are resumed at once; with a Chroma server they are taken over
    only once their lease runs out (another process may still be running them)."""

    def __init__(
        self,
        pipeline: IngestPipeline,
        db_path: Path,
        uploads_dir: Path,
        *,
        store: JobStore | None = None,
        run_jobs: bool = True,
        exclusive: bool = True,
        lease_s: float = 60.0,
        poll_s: float = 1.0,
        max_takeovers: int = 3,
    ) -> None:
        self.pipeline = pipeline
        self.uploads_dir = uploads_dir
        self.store: JobStore = store or SqliteJobStore(db_path)
        self.run_jobs, self.exclusive, self.poll_s = run_jobs, exclusive, poll_s
        self._stopping = threading.Event()
        self.runner = JobRunner(pipeline, self.store, uploads_dir, self._stopping, lease_s, max_takeovers)
        self._wake = threading.Condition()
        self._kicks = 0
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, pipeline: IngestPipeline, settings: Settings, run_jobs: bool = True) -> JobQueue:
        return cls(
            pipeline, settings.registry_db, settings.staging_path, store=open_job_store(settings), run_jobs=run_jobs,
            exclusive=not settings.chroma_url, lease_s=settings.job_lease_s, poll_s=settings.worker_poll_s,
            max_takeovers=settings.job_max_takeovers,
        )  # fmt: skip

    def new_upload_dir(self) -> tuple[str, Path]:
        job_id = f"job-{uuid.uuid4().hex[:20]}"
        return job_id, self.uploads_dir / job_id

    def submit(self, job_id: str, collection: str, files: list[StagedFile]) -> Job:
        directory = self.uploads_dir / job_id
        (directory / MANIFEST).write_text(json.dumps([asdict(f) for f in files]))
        job = self.store.submit(job_id, collection, len(files))
        self._enqueue(job_id)
        return job

    def submit_sync(self, job_id: str, collection: str, source_id: str) -> Job:
        """A sync job (ingest/jobs/sync_jobs.py): nothing staged, the runner reads the source itself. The
        source's sync already queued or running, if any, instead of a second one."""
        job = self.store.submit_sync(job_id, collection, source_id)
        if job.id == job_id:
            self._enqueue(job_id)
        return job

    def get(self, job_id: str) -> Job | None:
        return self.store.get(job_id)

    def resume(self) -> int:
        """At start: run again every job a stop interrupted (ingestion is idempotent, so done files are
        skipped); returns how many are waiting. Staged files of finished jobs, or of uploads that never
        became a job, are deleted first."""
        if self.exclusive:
            self.store.requeue_running()
        active = self.store.active_ids()
        self.clean_staging(keep=set(active))
        if active:  # a job whose files were lost fails when the runner claims it
            self._enqueue(active[0])
        return len(active)

    def pending(self) -> int:
        """Jobs queued or running: the queue depth /metrics reports."""
        return self.store.pending()

    def clean_staging(self, keep: set[str]) -> int:
        """Delete the upload folders of every job but `keep`: a stop just as a job finished, or during a
        small upload, leaves its staged files behind. Runs at start; with other processes staging uploads
        beside this one (a Chroma server), only folders untouched for a day are taken for leftovers."""
        if not self.uploads_dir.is_dir():
            return 0
        idle_s = 0.0 if self.exclusive else 24 * 3600.0
        stale = [
            d for d in self.uploads_dir.iterdir()
            if d.is_dir() and d.name not in keep and time.time() - _last_touched(d) >= idle_s
        ]  # fmt: skip
        for directory in stale:
            shutil.rmtree(directory, ignore_errors=True)
        if stale:
            log.info("deleted %d leftover upload folder(s)", len(stale))
        return len(stale)

    def _enqueue(self, job_id: str) -> None:
        """Wake the runner thread (started on demand) for a new job; it claims whatever job is waiting."""
        if not self.run_jobs:
            return
        with self._wake:
            self._kicks += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="ingest-jobs", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        lower_this_thread()  # and the pipeline's reader and writer threads it starts: interactive work goes first
        while True:
            with self._wake:
                if self._stopping.is_set():
                    self._thread = None
                    return
                self._kicks = 0
            if self.runner.run_next() is not None:
                continue
            with self._wake:
                # Nothing claimable. Alone on the data directory, or with no job left anywhere: done. Else
                # another process runs jobs: watch for one whose runner dies, as a worker would.
                if self._kicks == 0 and (self.exclusive or self.store.pending() == 0):
                    self._thread = None
                    return
            self._stopping.wait(self.poll_s)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the running job within one encoder batch (server shutdown); it goes back to the queue, so
        the next start (or another runner) resumes it, skipping the documents already stored."""
        self._stopping.set()
        self.wait_idle(timeout)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Block until no job is queued or running (tests and shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


def _last_touched(directory: Path) -> float:
    """When the folder or any staged file in it last changed (a big file being copied touches only itself)."""
    try:
        return max([directory.stat().st_mtime, *(p.stat().st_mtime for p in directory.iterdir())])
    except FileNotFoundError:  # removed meanwhile by its job's runner
        return time.time()
