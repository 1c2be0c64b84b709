"""Scale-out on the real engines: PostgreSQL (RAG_DATABASE_URL), a `chroma run` server, two `rag serve --no-ingest`
replicas and two `rag worker` processes, each with a data directory of its own, as on separate machines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import BIN, ROOT, free_port, server_process
from tests.fakes import fake_openai_server
from tests.integration.ingest.test_workers import PAUSING_WORKER, batch, stop_workers, stopped, vectors_per_document

pytestmark = pytest.mark.slow
ADMIN = "admin-key-for-the-fleet"
LEASE_S = 8.0


class Fleet:
    """The processes of one deployment; `env(name)` is what each machine would be configured with."""

    def __init__(self, tmp: Path, database_url: str, chroma_url: str, chat_url: str) -> None:
        self.tmp, self.database_url, self.chroma_url, self.chat_url = tmp, database_url, chroma_url, chat_url
        self.workers: list[subprocess.Popen[bytes]] = []
        self.replicas: list[str] = []

    def env(self, name: str) -> dict[str, str]:
        return {**os.environ, "RAG_DATA_DIR": str(self.tmp / name), "RAG_DATABASE_URL": self.database_url,
                "RAG_CHROMA_URL": self.chroma_url, "RAG_STAGING_DIR": str(self.tmp / "shared" / "staging"),
                "RAG_ORIGINALS_DIR": str(self.tmp / "shared" / "originals"), "RAG_API_KEYS": ADMIN,
                "RAG_JOB_LEASE_S": str(LEASE_S), "RAG_WORKER_POLL_S": "0.5",
                "RAG_CHAT_BASE_URL": self.chat_url}  # fmt: skip

    def start_worker(self, pausing_on: str) -> subprocess.Popen[bytes]:
        name = f"worker-{len(self.workers)}"
        script = PAUSING_WORKER.format(root=str(ROOT), big=pausing_on, mark=str(self.tmp / "paused"))
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115  # the child keeps it
        proc = subprocess.Popen(
            [sys.executable, "-c", script], env=self.env(name), stdout=log, stderr=subprocess.STDOUT
        )
        self.workers.append(proc)
        return proc

    def rag(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "rag"), *args], env=self.env("cli"), capture_output=True, text=True,
                              timeout=900)  # fmt: skip


@pytest.fixture
def fleet(tmp_path: Path, database_url: str, chroma_server: str) -> Iterator[Fleet]:
    with fake_openai_server() as chat, ExitStack() as stack:
        running = Fleet(tmp_path, database_url, chroma_server, chat.base_url)
        for name in ("replica-a", "replica-b"):
            port = free_port()
            command = [str(BIN / "rag"), "serve", "--no-ingest", "--port", str(port)]
            log = tmp_path / f"{name}.log"
            running.replicas.append(stack.enter_context(server_process(command, "/health", port, log, 600,
                                                                       env=running.env(name))))  # fmt: skip
        stack.callback(stop_workers, running.workers)
        yield running


def wait_job(url: str, job_id: str, headers: dict[str, str], timeout: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers, timeout=60).json()
        if job["status"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} did not finish")


def found(url: str, headers: dict[str, str], collection: str, query: str, marker: str) -> bool:
    body = {"query": query, "collection": collection}
    hits = httpx.post(f"{url}/v1/search", json=body, headers=headers, timeout=120).json()["results"]
    return any(marker in hit["text"] for hit in hits)


def test_replicas_and_workers_share_one_deployment_and_a_killed_worker_changes_nothing(fleet: Fleet) -> None:
    a, b = fleet.replicas
    admin = {"Authorization": f"Bearer {ADMIN}"}
    collection = f"replicas-{os.getpid()}"
    assert httpx.post(f"{a}/v1/collections", json={"name": collection}, headers=admin).status_code == 201
    workers = [fleet.start_worker(pausing_on=collection), fleet.start_worker(pausing_on=collection)]

    # Uploaded through replica A (a job for the workers), searchable through replica B.
    note = {"text": "The harbour walrus sleeps on pier nine every winter.", "filename": "walrus.txt"}
    uploaded = httpx.post(f"{a}/v1/collections/{collection}/documents", json=note, headers=admin, timeout=120)
    assert uploaded.status_code == 202, uploaded.text
    assert wait_job(b, uploaded.json()["job_id"], admin)["status"] == "done"  # the job is visible through B too
    returned = time.monotonic()
    while not found(b, admin, collection, "walrus pier", "walrus sleeps"):
        assert time.monotonic() - returned < 30, "never searchable through the other replica"
        time.sleep(0.02)
    print(f"searchable through the other replica {time.monotonic() - returned:.3f} s after the job was done")

    # A big upload through B: the worker holding it stops mid-document and is killed with kill -9.
    files = batch("fleet", 120)
    multipart = [("files", (name, text.encode(), "text/plain")) for name, text in files.items()]
    big = httpx.post(f"{b}/v1/collections/{collection}/documents", files=multipart, headers=admin, timeout=300)
    assert big.status_code == 202, big.text
    deadline = time.monotonic() + 900
    while not any(stopped(w.pid) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    victim = next(w for w in workers if stopped(w.pid))
    with psycopg.connect(fleet.database_url) as db:
        half = db.execute("SELECT count(*) FROM documents WHERE status = 'ingesting'").fetchone()[0]  # type: ignore[index]
    assert half > 0  # mid-document: pending rows whose vectors are in Chroma
    os.kill(victim.pid, signal.SIGKILL)
    final = wait_job(a, big.json()["job_id"], admin)
    assert final["status"] == "done" and final["takeovers"] >= 1 and final["files_done"] == len(files), final

    # The same files in one clean run over the same engines: same documents, chunks and vectors, 0 duplicates.
    folder = fleet.tmp / "clean-files"
    folder.mkdir()
    for name, text in {**files, "walrus.txt": note["text"]}.items():
        (folder / name).write_text(text)
    clean = f"replicas-clean-{os.getpid()}"
    ingested = fleet.rag("ingest", str(folder), "-c", clean)
    assert ingested.returncode == 0, ingested.stderr

    def chunk_counts(name: str) -> dict[str, int]:
        listed = httpx.get(f"{b}/v1/collections/{name}/documents", params={"limit": 500}, headers=admin).json()
        return {d["document_id"]: d["chunk_count"] for d in listed["documents"]}

    assert chunk_counts(collection) == chunk_counts(clean) and len(chunk_counts(collection)) == len(files) + 1
    assert vectors_per_document(fleet.chroma_url, collection) == Counter(chunk_counts(collection))
    with psycopg.connect(fleet.database_url) as db:
        assert db.execute("SELECT count(*) FROM documents WHERE status <> 'ready'").fetchone()[0] == 0  # type: ignore[index]

    # Scoped keys live in the database: created by the CLI, honoured by both replicas, revoked for both.
    created = fleet.rag("keys", "create", "hr-bot", "--role", "reader", "--collections", collection, "--json")
    assert created.returncode == 0, created.stderr
    reader = {"Authorization": f"Bearer {json.loads(created.stdout)['key']}"}
    for url in (a, b):
        assert found(url, reader, collection, "walrus pier", "walrus sleeps")
        names = [c["name"] for c in httpx.get(f"{url}/v1/collections", headers=reader).json()["collections"]]
        assert names == [collection]
        other = httpx.post(f"{url}/v1/search", json={"query": "walrus", "collection": clean}, headers=reader)
        assert other.status_code == 404 and other.json()["error"]["code"] == 404
        denied = httpx.post(f"{url}/v1/collections/{collection}/documents", json=note, headers=reader)
        assert denied.status_code == 403
    assert fleet.rag("keys", "revoke", "hr-bot").returncode == 0
    for url in (a, b):
        assert httpx.get(f"{url}/v1/collections", headers=reader).status_code == 401

    # A collection deleted through A is gone for B.
    assert httpx.delete(f"{a}/v1/collections/{clean}", headers=admin, timeout=120).status_code == 204
    gone = httpx.post(f"{b}/v1/search", json={"query": "walrus", "collection": clean}, headers=admin)
    assert gone.status_code == 404
    assert clean not in [c["name"] for c in httpx.get(f"{b}/v1/collections", headers=admin).json()["collections"]]
