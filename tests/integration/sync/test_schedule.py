"""Syncs start once however many ask: processes of their own racing on one real store (a SQLite file, a
PostgreSQL database), as every `rag serve` replica and `rag worker` does, scheduled or asked for now."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
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
    scheduler = SyncedSources(sources, jobs, jobs.submit_sync)
    time.sleep(max(0.0, start - time.time()))
    out.put([job.id for job in scheduler.start_due(at)])


@pytest.fixture(params=["sqlite", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return request.getfixturevalue("database_url") if request.param == "postgres" else str(tmp_path / "registry.sqlite")


def _in_four_processes(target: Callable[..., None], where: str, at: float) -> list[str]:
    """Run `target(where, start, at, out)` in four spawned processes that all act at `start`; the job ids
    they put in `out`, together."""
    spawn = multiprocessing.get_context("spawn")
    out = spawn.Queue()
    start = time.time() + 3  # every process ready before the first look
    procs = [spawn.Process(target=target, args=(where, start, at, out)) for _ in range(4)]
    for p in procs:
        p.start()
    job_ids = [job_id for _ in procs for job_id in out.get(timeout=300)]
    for p in procs:
        p.join(timeout=60)
    return job_ids


def test_each_due_sync_is_started_by_exactly_one_of_four_racing_schedulers(where: str) -> None:
    sources, jobs = _stores(where)
    for i in range(SOURCES):
        sources.add(SourceRecord(f"src-{i:02d}", "kb", "folder", "/srv", {}, 60.0, 1000.0, created_at="2026-01-01"))
    sources.add(SourceRecord("src-later", "kb", "folder", "/srv", {}, 60.0, 9999.0, created_at="2026-01-01"))
    sources.add(SourceRecord("src-manual", "kb", "folder", "/srv", {}, None, None, created_at="2026-01-01"))
    started = _in_four_processes(_schedule, where, 1030.0)
    assert len(started) == len(set(started)) == SOURCES  # one job per due source, whoever started it
    assert {job_id.split("-")[1] + "-" + job_id.split("-")[2] for job_id in started} == {
        f"src-{i:02d}" for i in range(SOURCES)
    }
    assert all(jobs.get(job_id).status == "queued" for job_id in started)  # type: ignore[union-attr]
    assert sources.get("src-00").next_run_at == 1090.0  # type: ignore[union-attr]  # the next run counts from then
    assert sources.get("src-later").next_run_at == 9999.0  # type: ignore[union-attr]
    again = SyncedSources(sources, jobs, jobs.submit_sync)
    assert again.start_due(1031.0) == []  # nothing due until 1090


def _sync_now(where: str, start: float, at: float, out: Queue) -> None:  # type: ignore[type-arg]
    """One replica: a scheduler thread and two "sync now" requests, all at `start`."""
    sources, jobs = _stores(where)
    synced = SyncedSources(sources, jobs, jobs.submit_sync)
    got: list[str] = []

    def ask(scheduled: bool) -> None:
        time.sleep(max(0.0, start - time.time()))
        jobs_started = synced.start_due(at) if scheduled else [synced.sync("kb", "src-x")]
        got.extend(job.id for job in jobs_started)

    threads = [threading.Thread(target=ask, args=(i == 0,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(got)


def test_syncs_asked_for_at_once_on_four_replicas_share_one_job_until_it_ends(where: str) -> None:
    sources, jobs = _stores(where)
    sources.add(SourceRecord("src-x", "kb", "folder", "/srv", {}, 60.0, 1000.0, created_at="2026-01-01"))
    got = _in_four_processes(_sync_now, where, 1030.0)
    assert len(got) == 4 * 2 + 1  # eight requests and the one scheduler that took the due run
    assert len(set(got)) == 1  # ... all given the same job
    job_id = got[0]
    assert [r["id"] for r in jobs.sql.rows("SELECT id FROM jobs")] == [job_id]  # type: ignore[attr-defined]
    assert sources.get("src-x").job_id == job_id  # type: ignore[union-attr]

    synced = SyncedSources(sources, jobs, jobs.submit_sync)
    claimed = jobs.claim("runner-1", 60.0, 3)
    assert claimed is not None and claimed.id == job_id
    assert synced.sync("kb", "src-x").id == job_id  # running: still the one
    assert jobs.record(job_id, "runner-1", status="done")
    after = synced.sync("kb", "src-x")  # it ended: a sync asked for now is a new job
    assert after.id != job_id and after.status == "queued" and after.source_id == "src-x"
    assert sources.get("src-x").job_id == after.id  # type: ignore[union-attr]
    assert jobs.active_ids() == [after.id]
    jobs.fail(after.id, "the folder vanished")
    assert synced.sync("kb", "src-x").id not in (job_id, after.id)  # a failed one stands in no one's way
