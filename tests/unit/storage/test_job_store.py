"""The job store's claims and leases (rag/storage/jobs/), on both engines: real SQLite files and a real
PostgreSQL, each shared by several connections."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from multiprocessing import Queue
from pathlib import Path

import pytest

from rag.storage.engine import Database
from rag.storage.jobs import JobStore
from rag.storage.jobs.postgres import PostgresJobStore
from rag.storage.jobs.sqlite import SqliteJobStore


def open_store(where: str) -> JobStore:
    """A store with connections of its own: `where` is a SQLite file or a PostgreSQL URL."""
    if where.startswith("postgresql://"):
        database = Database(where, pool_size=2)
        database.migrate()
        return PostgresJobStore(database)
    return SqliteJobStore(Path(where))


@pytest.fixture(params=["sqlite", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return request.getfixturevalue("database_url") if request.param == "postgres" else str(tmp_path / "registry.sqlite")


@pytest.fixture
def new_store(where: str) -> Callable[[], JobStore]:
    return lambda: open_store(where)


def _claim_all(where: str, name: str, start: float, out: Queue) -> None:  # type: ignore[type-arg]
    store = open_store(where)  # connections of its own, in a process of its own
    time.sleep(max(0.0, start - time.time()))
    mine = []
    while (job := store.claim(name, lease_s=60, max_takeovers=3)) is not None:
        mine.append(job.id)
        time.sleep(0.005)  # a little work between claims, as a worker has
    out.put((name, mine))


def test_concurrent_claimers_never_get_the_same_job(where: str) -> None:
    submitter = open_store(where)
    jobs = {f"job-{i:03d}" for i in range(150)}
    for job_id in sorted(jobs):
        submitter.submit(job_id, "c1", 1)
    spawn = multiprocessing.get_context("spawn")
    out = spawn.Queue()
    start = time.time() + 3  # every process ready before the first claim
    procs = [spawn.Process(target=_claim_all, args=(where, f"w{i}", start, out)) for i in range(4)]
    for p in procs:
        p.start()
    claimed = dict(out.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    every = [job_id for ids in claimed.values() for job_id in ids]
    assert len(every) == len(set(every)) == len(jobs) and set(every) == jobs
    assert sum(1 for ids in claimed.values() if ids) >= 2  # they really competed
    assert all(submitter.get(j).worker in claimed and submitter.get(j).status == "running" for j in jobs)  # type: ignore[union-attr]


def test_a_silent_workers_job_is_taken_over_after_the_lease_and_the_old_worker_is_shut_out(
    new_store: Callable[[], JobStore],
) -> None:
    store = new_store()
    store.submit("job-1", "c1", 3)
    assert store.claim("a", lease_s=0.5, max_takeovers=3).id == "job-1"  # type: ignore[union-attr]
    assert store.claim("b", lease_s=0.5, max_takeovers=3) is None  # a fresh heartbeat: still a's
    assert store.heartbeat("job-1", "a")
    time.sleep(0.7)  # a says nothing for longer than the lease
    taken = store.claim("b", lease_s=0.5, max_takeovers=3)
    assert taken is not None and taken.worker == "b" and taken.takeovers == 1
    assert not store.heartbeat("job-1", "a") and not store.record("job-1", "a", files_done=2)  # a must stop
    assert not store.release("job-1", "a")
    assert store.record("job-1", "b", status="done", files_done=3)
    job = store.get("job-1")
    assert job is not None and job.status == "done" and job.files_done == 3 and job.worker == "b"


def test_a_released_job_is_queued_again_without_counting_as_a_takeover(new_store: Callable[[], JobStore]) -> None:
    store = new_store()
    store.submit("job-1", "c1", 1)
    store.claim("a", lease_s=60, max_takeovers=0)
    assert store.release("job-1", "a")
    assert store.get("job-1").status == "queued"  # type: ignore[union-attr]
    again = store.claim("b", lease_s=60, max_takeovers=0)
    assert again is not None and again.worker == "b" and again.takeovers == 0


def test_a_job_whose_workers_keep_dying_fails_instead_of_looping(new_store: Callable[[], JobStore]) -> None:
    store = new_store()
    store.submit("job-1", "c1", 1)
    for worker in ("a", "b", "c"):
        assert store.claim(worker, lease_s=0.05, max_takeovers=2) is not None
        time.sleep(0.1)
    assert store.claim("d", lease_s=0.05, max_takeovers=2) is None
    job = store.get("job-1")
    assert job is not None and job.status == "failed" and "3 times" in (job.error or "")
    assert store.pending() == 0


def test_jobs_written_before_leases_existed_are_read_and_claimed(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "registry.sqlite"
    with sqlite3.connect(db) as old:  # the table as the first release made it, a job left running
        old.execute(
            "CREATE TABLE jobs (id TEXT PRIMARY KEY, collection TEXT NOT NULL, status TEXT NOT NULL,"
            " files_total INTEGER NOT NULL, files_done INTEGER NOT NULL DEFAULT 0, chunks_done INTEGER NOT NULL"
            " DEFAULT 0, results TEXT NOT NULL DEFAULT '[]', error TEXT, created_at TEXT NOT NULL,"
            " updated_at TEXT NOT NULL)"
        )
        old.execute("INSERT INTO jobs (id, collection, status, files_total, created_at, updated_at)"
                    " VALUES ('job-old', 'c1', 'running', 2, 'x', 'x')")  # fmt: skip
    store = SqliteJobStore(db)
    job = store.claim("w", lease_s=60, max_takeovers=3)
    assert job is not None and job.id == "job-old" and job.worker == "w"
