"""Uploads staged on disk and background ingestion jobs that survive a restart.

An upload is copied to `<data>/uploads/<job>/` under a generated name (the client's filename is
kept only as metadata, never used as a path). Big uploads become jobs: the manifest of staged
files is on disk and the job row in SQLite, so a restart resumes unfinished jobs; re-ingesting a
file that already made it is a no-op, and each document becomes visible atomically.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import sqlite3
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ingest.pipeline import FileResult, IngestPipeline, IngestStopped, Source
from ingest.registry import now
from rag.priority import lower_this_thread

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    status TEXT NOT NULL,
    files_total INTEGER NOT NULL,
    files_done INTEGER NOT NULL DEFAULT 0,
    chunks_done INTEGER NOT NULL DEFAULT 0,
    results TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""


@dataclass
class StagedFile:
    path: str
    filename: str
    document_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def source(self) -> Source:
        path = Path(self.path)
        return Source(self.filename, path.read_bytes, path.stat().st_size, self.document_id, self.metadata)


def stage(directory: Path, index: int, filename: str, stream: BinaryIO, **kwargs: Any) -> StagedFile:
    """Copy an upload to disk in pieces (never whole into memory) under a generated name."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = re.sub(r"[^a-z0-9.]", "", Path(filename).suffix.lower())[:10]
    path = directory / f"{index:05d}{suffix}"
    with path.open("xb") as out:
        shutil.copyfileobj(stream, out, 1024 * 1024)
    return StagedFile(str(path), filename, **kwargs)


@dataclass
class Job:
    id: str
    collection: str
    status: str  # queued | running | done | failed
    files_total: int
    files_done: int
    chunks_done: int
    results: list[dict[str, Any]]
    error: str | None
    created_at: str
    updated_at: str

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["status"] == "failed"]


class JobQueue:
    """Persists jobs and runs them one at a time in a background thread."""

    def __init__(self, pipeline: IngestPipeline, db_path: Path, uploads_dir: Path) -> None:
        self.pipeline = pipeline
        self.uploads_dir = uploads_dir
        self.db = sqlite3.connect(db_path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._wake = threading.Condition()
        self._queue: list[str] = []
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def new_upload_dir(self) -> tuple[str, Path]:
        job_id = f"job-{uuid.uuid4().hex[:20]}"
        return job_id, self.uploads_dir / job_id

    def submit(self, job_id: str, collection: str, files: list[StagedFile]) -> Job:
        directory = self.uploads_dir / job_id
        (directory / "manifest.json").write_text(json.dumps([asdict(f) for f in files]))
        stamp = now()
        with self._lock:
            self.db.execute(
                "INSERT INTO jobs (id, collection, status, files_total, created_at, updated_at)"
                " VALUES (?, ?, 'queued', ?, ?, ?)",
                (job_id, collection, len(files), stamp, stamp),
            )
        self._enqueue(job_id)
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        data = dict(row)
        data["results"] = json.loads(data["results"])
        return Job(**data)

    def resume(self) -> int:
        """Queue again every job a restart interrupted; ingestion is idempotent, so done files are skipped.
        Staged files of finished jobs, or of uploads that never became a job, are deleted first."""
        with self._lock:
            rows = self.db.execute("SELECT id FROM jobs WHERE status IN ('queued', 'running')").fetchall()
        self.clean_staging(keep={job_id for (job_id,) in rows})
        for (job_id,) in rows:
            if (self.uploads_dir / job_id / "manifest.json").is_file():
                self._enqueue(job_id)
            else:
                self._update(job_id, status="failed", error="uploaded files were lost before the job ran")
        return len(rows)

    def pending(self) -> int:
        """Jobs queued or running: the queue depth /metrics reports."""
        with self._lock:
            row = self.db.execute("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')").fetchone()
        return int(row[0])

    def clean_staging(self, keep: set[str]) -> int:
        """Delete the upload folders of every job but `keep`: a stop just as a job finished, or during a
        small upload, leaves its staged files behind. Runs at start, before any upload is staged."""
        if not self.uploads_dir.is_dir():
            return 0
        stale = [d for d in self.uploads_dir.iterdir() if d.is_dir() and d.name not in keep]
        for directory in stale:
            shutil.rmtree(directory, ignore_errors=True)
        if stale:
            log.info("deleted %d leftover upload folder(s)", len(stale))
        return len(stale)

    def _enqueue(self, job_id: str) -> None:
        with self._wake:
            self._queue.append(job_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="ingest-jobs", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _work(self) -> None:
        lower_this_thread()  # and the pipeline's reader and writer threads it starts: interactive work goes first
        while True:
            with self._wake:
                if not self._queue or self._stopping.is_set():
                    self._thread = None
                    return
                job_id = self._queue.pop(0)
            try:
                self._run(job_id)
            except IngestStopped:
                log.info("job %s stopped for shutdown; it resumes at the next start", job_id)
            except Exception as exc:  # a job must never kill the worker
                log.exception("job %s failed", job_id)
                self._update(job_id, status="failed", error=f"{type(exc).__name__}: {exc}")

    def _run(self, job_id: str) -> None:
        job = self.get(job_id)
        if job is None:
            return
        directory = self.uploads_dir / job_id
        files = [StagedFile(**f) for f in json.loads((directory / "manifest.json").read_text())]
        self._update(job_id, status="running", files_done=0, chunks_done=0, results="[]")
        results: list[FileResult] = []
        guard = threading.Lock()  # progress arrives from the pipeline's reader and writer threads

        def progress(result: FileResult) -> None:
            with guard:
                results.append(result)
                self._record(job_id, results)

        # In the background: uploads and answers waiting for the encoder go first.
        final = self.pipeline.ingest(
            [f.source() for f in files], job.collection, progress=progress, background=True, stop=self._stopping
        )
        self._record(job_id, final, status="done")
        shutil.rmtree(directory, ignore_errors=True)

    def _record(self, job_id: str, results: list[FileResult], **fields: Any) -> None:
        self._update(
            job_id, files_done=len(results), chunks_done=sum(r.chunks for r in results),
            results=json.dumps([asdict(r) for r in results]), **fields,
        )  # fmt: skip

    def _update(self, job_id: str, **fields: Any) -> None:
        assignments = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self.db.execute(
                f"UPDATE jobs SET {assignments}, updated_at = ? WHERE id = ?", [*fields.values(), now(), job_id]
            )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the running job within one encoder batch (server shutdown); its row stays `running`, so the
        next start resumes it, skipping the documents already stored."""
        self._stopping.set()
        self.wait_idle(timeout)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Block until no job is queued or running (tests and shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
