"""`rag worker`: a process that runs the ingestion jobs any `rag serve` submitted, beside other workers.

Workers share the job store and the staging folder (RAG_STAGING_DIR). Several processes writing one data
directory need a Chroma server (RAG_CHROMA_URL): with embedded Chroma a worker owns the directory like any
CLI writer (ingest/ownership.py) and refuses to start while a server owns it.
"""

from __future__ import annotations

import logging
import threading

from ingest.jobs.runners import JobRunner
from ingest.ownership import DataDirBusy, claim
from ingest.pipeline import IngestPipeline
from ingest.synced_sources import SourceScheduler, SyncedSources
from ingest.watching import FolderWatcher
from rag.config import Settings
from rag.errors import Conflict
from rag.storage.jobs import open_job_store
from rag.storage.sources import open_source_store

log = logging.getLogger("rag.worker")


class WorkerRefused(Conflict):
    """This worker must not write the data directory now."""


def own_data_dir(settings: Settings) -> None:
    """With embedded Chroma, become the data directory's owner (waiting for a CLI writer to end); a server
    owning it keeps its vectors in its own memory, so a worker there would write what it never sees."""
    if settings.chroma_url:
        return
    try:
        claim(settings.data_dir, "rag worker", on_wait=lambda owner: log.info("waiting for %s", owner.describe()))
    except DataDirBusy as exc:
        raise WorkerRefused(
            f"{exc.message}: with embedded Chroma only one process writes a data directory. Run the server and"
            " its workers over a Chroma server (RAG_CHROMA_URL), or stop the server and run the worker alone"
        ) from exc


def run_worker(
    pipeline: IngestPipeline, settings: Settings, stop: threading.Event, exit_when_idle: bool = False
) -> int:
    """Claim and run jobs until `stop` is set (or, with `exit_when_idle`, none is waiting); returns how many ended."""
    jobs = open_job_store(settings)
    runner = JobRunner(
        pipeline, jobs, settings.staging_path, stop, settings.job_lease_s, settings.job_max_takeovers,
    )  # fmt: skip
    # Scheduled syncs start here too (each once across every server and worker: ingest/synced_sources.py).
    sources = SyncedSources(open_source_store(settings), jobs, jobs.submit_sync)
    scheduler = SourceScheduler(sources, settings.source_schedule_poll_s).start()
    watcher = FolderWatcher(sources).start() if settings.source_watch else None
    log.info(
        "worker %s ready: jobs of %s, staged files in %s, lease %g s",
        runner.worker, settings.registry_db, settings.staging_path, settings.job_lease_s,
    )  # fmt: skip
    ran = 0
    while not stop.is_set():
        job = runner.run_next()
        if job is not None:
            ran += job.status in ("done", "failed", "cancelled")  # not one handed back
        elif exit_when_idle:
            break
        else:
            stop.wait(settings.worker_poll_s)
    scheduler.stop()
    if watcher is not None:
        watcher.stop()
    log.info("worker %s stopping; %d job(s) finished", runner.worker, ran)
    return ran
