"""Real processes: a `chroma run` server, `rag serve --no-ingest`, and `rag worker` processes sharing its jobs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BIN, ROOT, free_port, server_process
from tests.integration.ingest.test_shared_data_dir import final_state

LEASE_S = 8.0
pytestmark = pytest.mark.slow

# `rag worker`, except that the first worker to store the second group of vectors of `big` stops itself right
# after that upsert (fault injection): the first group's documents are live, the second group's are pending in
# the registry with their vectors in Chroma. The worst moment to die; the test then kills it with kill -9.
PAUSING_WORKER = """
import os, signal, sys, threading
sys.path.insert(0, {root!r})
import rag.storage.vectors
real, calls = rag.storage.vectors.ChromaStore.upsert, []
def upsert(self, collection, *args, **kwargs):
    real(self, collection, *args, **kwargs)
    if collection == {big!r}:
        calls.append(1)
        if len(calls) == 2:
            try:
                os.close(os.open({mark!r}, os.O_CREAT | os.O_EXCL))
            except FileExistsError:  # another worker paused already: this one works on
                return
            signal.pthread_kill(threading.get_ident(), signal.SIGSTOP)
rag.storage.vectors.ChromaStore.upsert = upsert
from cli.main import main
sys.argv = ["rag", "worker"]
main()
"""


def batch(prefix: str, count: int) -> dict[str, str]:
    """Distinct files of a few chunks each: enough work that a job is caught half-way."""
    return {
        f"{prefix}{i:03d}.txt": " ".join(
            f"Logbook {prefix} {i}, entry {j}: the keeper of lighthouse {i} saw {j * i % 97} gulls and a ship."
            for j in range(28)
        )
        for i in range(count)
    }


class Cluster:
    def __init__(self, tmp: Path, chroma_url: str) -> None:
        self.tmp, self.data, self.staging = tmp, tmp / "data", tmp / "staging"
        self.env = {
            **os.environ, "RAG_DATA_DIR": str(self.data), "RAG_CHROMA_URL": chroma_url,
            "RAG_STAGING_DIR": str(self.staging), "RAG_JOB_LEASE_S": str(LEASE_S), "RAG_WORKER_POLL_S": "0.5",
            "RAG_CHAT_BASE_URL": "http://127.0.0.1:9/v1",  # never called: these tests search and upload
        }  # fmt: skip
        self.url = ""
        self.workers: list[subprocess.Popen[bytes]] = []

    def start_worker(self, pausing_on: str | None = None) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"worker-{len(self.workers)}.log", "wb")  # noqa: SIM115  # the child keeps it
        command = [str(BIN / "rag"), "worker"]
        if pausing_on:
            script = PAUSING_WORKER.format(root=str(ROOT), big=pausing_on, mark=str(self.tmp / "paused"))
            command = [sys.executable, "-c", script]
        proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.workers.append(proc)
        return proc

    def log_of(self, proc: subprocess.Popen[bytes]) -> str:
        return (self.tmp / f"worker-{self.workers.index(proc)}.log").read_text(errors="replace")

    def upload(self, collection: str, files: dict[str, str]) -> str:
        multipart = [("files", (name, text.encode(), "text/plain")) for name, text in files.items()]
        response = httpx.post(f"{self.url}/v1/collections/{collection}/documents", files=multipart, timeout=300)
        assert response.status_code == 202, response.text  # serving only: every upload is a job
        return str(response.json()["job_id"])

    def job(self, job_id: str) -> dict[str, Any]:
        return httpx.get(f"{self.url}/v1/jobs/{job_id}", timeout=60).json()  # type: ignore[no-any-return]

    def wait_job(self, job_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 900) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if done(job):
                return job
            time.sleep(0.1)
        raise TimeoutError(f"job {job_id} never reached the state: {self.job(job_id)}")

    def holder(self, job: dict[str, Any]) -> subprocess.Popen[bytes]:
        pid = int(job["worker"].rsplit("-", 2)[1])  # host-pid-id
        return next(p for p in self.workers if p.pid == pid)

    def stop(self) -> None:
        stop_workers(self.workers)


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each worker (SIGKILL one the test paused), then wait for all of them."""
    for proc in workers:
        if proc.poll() is None:
            proc.kill() if stopped(proc.pid) else proc.terminate()
    for proc in workers:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except FileNotFoundError:
        return False


@pytest.fixture
def cluster(tmp_path: Path, chroma_server: str) -> Iterator[Cluster]:
    """`rag serve --no-ingest` over a Chroma server (the tests start the workers)."""
    running = Cluster(tmp_path, chroma_server)
    port = free_port()
    command = [str(BIN / "rag"), "serve", "--no-ingest", "--port", str(port)]
    with server_process(command, "/openapi.json", port, tmp_path / "server.log", 600, env=running.env) as url:
        running.url = url
        try:
            yield running
        finally:
            running.stop()


def pending_documents(data: Path, pid: int) -> set[str]:
    """Documents a process left half-written: pending registry rows under its writer lease (`<pid>-<id>`)."""
    with sqlite3.connect(data / "registry.sqlite") as db:
        rows = db.execute(
            "SELECT document_id FROM documents WHERE status = 'ingesting' AND writer LIKE ?", (f"{pid}-%",)
        )
        return {r[0] for r in rows}


def vectors_per_document(chroma_url: str, collection: str) -> Counter[str]:
    import chromadb

    from rag.storage.vectors import chroma_collection_name

    host, port = chroma_url.removeprefix("http://").rsplit(":", 1)
    got = chromadb.HttpClient(host=host, port=int(port)).get_collection(chroma_collection_name(collection)).get()
    return Counter(str(m["document_id"]) for m in got["metadatas"] or [])


def test_workers_run_the_jobs_and_a_killed_workers_job_is_taken_over_as_a_clean_run_would_end(
    cluster: Cluster, chroma_server: str, tmp_path: Path
) -> None:
    collection = f"fleet-{os.getpid()}"
    assert httpx.post(f"{cluster.url}/v1/collections", json={"name": collection}).status_code == 201
    workers = [cluster.start_worker(pausing_on=collection), cluster.start_worker(pausing_on=collection)]

    # A small text upload is a job too; a worker runs it and it is searchable through the server.
    text = {"text": "The harbour walrus sleeps on pier nine.", "filename": "walrus.txt"}
    small = httpx.post(f"{cluster.url}/v1/collections/{collection}/documents", json=text, timeout=60)
    assert small.status_code == 202, small.text
    done = cluster.wait_job(small.json()["job_id"], lambda j: j["status"] in ("done", "failed"))
    assert done["status"] == "done" and done["files_done"] == 1 and done["worker"]
    hits = httpx.post(f"{cluster.url}/v1/search", json={"query": "walrus pier", "collection": collection}).json()
    assert hits["results"][0]["filename"] == "walrus.txt"

    # A big batch: the worker holding it is caught with documents half-written, and killed with kill -9.
    files = batch("kill", 150)
    job_id = cluster.upload(collection, files)
    deadline = time.monotonic() + 900
    while not any(stopped(w.pid) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    victim = next(w for w in workers if stopped(w.pid))
    held = cluster.job(job_id)
    # mid-job (the group whose upsert paused it may be the first, before any file was reported done) ...
    assert cluster.holder(held) is victim and held["status"] == "running" and held["files_done"] < len(files)
    half_written = pending_documents(cluster.data, victim.pid)
    assert half_written  # ... and mid-document: pending rows whose vectors are in Chroma
    os.kill(victim.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    victim.wait(timeout=60)
    final = cluster.wait_job(job_id, lambda j: j["status"] in ("done", "failed"))
    took = time.monotonic() - killed_at
    survivor = cluster.holder(final)
    assert final["status"] == "done" and survivor is not victim and final["takeovers"] >= 1, final
    assert final["files_done"] == len(files) and not final["failures"]
    survivor_log = cluster.log_of(survivor)
    assert "taken over" in survivor_log and "recovered" in survivor_log  # the dead worker's documents repaired
    deadline = time.monotonic() + 60
    while (cluster.staging / job_id).exists() and time.monotonic() < deadline:  # removed just after `done`
        time.sleep(0.1)
    assert not (cluster.staging / job_id).exists()  # the staged files went with the job
    print(f"killed after {held['files_done']}/{len(files)} files, {len(half_written)} half-written;"
          f" job finished {took:.1f} s later")  # fmt: skip

    # The same files ingested in one clean run over the same Chroma server.
    clean_data = tmp_path / "clean"
    clean_collection = f"clean-{os.getpid()}"
    folder = tmp_path / "clean-files"
    folder.mkdir()
    for name, body in {**files, "walrus.txt": text["text"]}.items():
        (folder / name).write_text(body)
    clean_env = {**cluster.env, "RAG_DATA_DIR": str(clean_data)}
    ingest = subprocess.run([str(BIN / "rag"), "ingest", str(folder), "-c", clean_collection], env=clean_env,
                            capture_output=True, text=True, timeout=900)  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr
    got, expected = final_state(cluster.data, collection, chroma_server), final_state(clean_data, clean_collection,
                                                                                      chroma_server)  # fmt: skip
    assert got == expected and len(got["registry"]) == len(files) + 1  # type: ignore[arg-type]
    with sqlite3.connect(cluster.data / "registry.sqlite") as db:
        chunks = dict(db.execute("SELECT document_id, chunk_count FROM documents WHERE collection = ?", (collection,)))
        assert {s for (s,) in db.execute("SELECT DISTINCT status FROM documents")} == {"ready"}  # no half document
    per_document = vectors_per_document(chroma_server, collection)
    assert per_document == Counter(chunks)  # every document's vectors exactly once: 0 duplicates, none missing
    assert per_document == vectors_per_document(chroma_server, clean_collection)


def test_a_worker_stopped_with_sigterm_hands_its_job_back_and_another_finishes_it(cluster: Cluster) -> None:
    collection = f"handback-{os.getpid()}"
    assert httpx.post(f"{cluster.url}/v1/collections", json={"name": collection}).status_code == 201
    cluster.start_worker()
    cluster.start_worker()
    files = batch("term", 120)
    job_id = cluster.upload(collection, files)
    held = cluster.wait_job(job_id, lambda j: j["status"] == "running" and j["files_done"] >= 5)
    stopping = cluster.holder(held)
    stopping.terminate()
    asked = time.monotonic()
    assert stopping.wait(timeout=120) == 0
    stopped_in = time.monotonic() - asked
    final = cluster.wait_job(job_id, lambda j: j["status"] in ("done", "failed"))
    handed_back_in = time.monotonic() - asked
    assert final["status"] == "done" and final["files_done"] == len(files) and not final["failures"]
    assert cluster.holder(final) is not stopping and final["takeovers"] == 0  # handed back, not taken over
    assert "handed back to the queue" in cluster.log_of(stopping)
    documents = httpx.get(f"{cluster.url}/v1/collections/{collection}/documents", params={"limit": 1}).json()
    assert documents["total"] == len(files)
    print(f"worker stopped {stopped_in:.1f} s after SIGTERM; job done {handed_back_in:.1f} s after it")
