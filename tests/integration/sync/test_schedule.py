"""Scheduled syncs start once however many schedulers look: processes of their own racing on one real store
(a SQLite file, a PostgreSQL database), as every `rag serve` replica and `rag worker` does."""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing import Queue
from pathlib import Path

import pytest

from ingest.synced_sources import SyncedSources
from rag.storage.engine import Database
from rag.storage.jobs import JobStore
from rag.storage.jobs.postgres import PostgresJobStore
from rag.storage.jobs.sqlite import SqliteJobStore
from rag.storage.sources import SourceRecord, SourceStore
from rag.storage.sources.postgres import PostgresSourceStore
from rag.storage.sources.sqlite import SqliteSourceStore

SOURCES = 12


def _stores(where: str) -> tuple[SourceStore, JobStore]:
    if where.startswith("postgresql://"):
        database = Database(where, pool_size=2)
        database.migrate()
        return PostgresSourceStore(database), PostgresJobStore(database)
    return SqliteSourceStore(Path(where)), SqliteJobStore(Path(where))


def _schedule(where: str, start: float, at: float, out: Queue) -> None:  # type: ignore[type-arg]
    sources, jobs = _stores(where)
    scheduler = SyncedSources(sources, jobs, lambda job_id, collection: jobs.submit(job_id, collection, 0))
    time.sleep(max(0.0, start - time.time()))
    out.put([job.id for job in scheduler.start_due(at)])


@pytest.fixture(params=["sqlite", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return request.getfixturevalue("database_url") if request.param == "postgres" else str(tmp_path / "registry.sqlite")


def test_each_due_sync_is_started_by_exactly_one_of_four_racing_schedulers(where: str) -> None:
    sources, jobs = _stores(where)
    for i in range(SOURCES):
        sources.add(SourceRecord(f"src-{i:02d}", "kb", "folder", "/srv", {}, 60.0, 1000.0, created_at="2026-01-01"))
    sources.add(SourceRecord("src-later", "kb", "folder", "/srv", {}, 60.0, 9999.0, created_at="2026-01-01"))
    sources.add(SourceRecord("src-manual", "kb", "folder", "/srv", {}, None, None, created_at="2026-01-01"))
    spawn = multiprocessing.get_context("spawn")
    out = spawn.Queue()
    start = time.time() + 3  # every process ready before the first look
    procs = [spawn.Process(target=_schedule, args=(where, start, 1030.0, out)) for _ in range(4)]
    for p in procs:
        p.start()
    started = [job_id for _ in procs for job_id in out.get(timeout=300)]
    for p in procs:
        p.join(timeout=60)
    assert len(started) == len(set(started)) == SOURCES  # one job per due source, whoever started it
    assert {job_id.split("-")[1] + "-" + job_id.split("-")[2] for job_id in started} == {
        f"src-{i:02d}" for i in range(SOURCES)
    }
    assert all(jobs.get(job_id).status == "queued" for job_id in started)  # type: ignore[union-attr]
    assert sources.get("src-00").next_run_at == 1090.0  # type: ignore[union-attr]  # the next run counts from then
    assert sources.get("src-later").next_run_at == 9999.0  # type: ignore[union-attr]
    again = SyncedSources(sources, jobs, lambda job_id, collection: jobs.submit(job_id, collection, 0))
    assert again.start_due(1031.0) == []  # nothing due until 1090
