"""Interactive requests never wait behind bulk ingestion: a small upload and a search answer while a
background job ingests hundreds of documents, over real HTTP.

Before, a job held the encoder for group after group of 256 chunks and re-took its lock before a waiting
upload's thread woke: small uploads waited 55-108 s. Now a job encodes in small slices and lets any
interactive caller go first (rag/retrieval/embeddings.py, EncoderTurns). The clock here is the job itself:
how many chunks it encoded while a request was served, which holds on any machine under any load (a busier
CPU slows the request and the job alike). A request that waited behind the job saw a whole group go by.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ingest.pipeline import ENCODE_GROUP_CHUNKS
from rag.config import Settings
from rag.retrieval.embeddings import EncoderTurns
from tests.conftest import ingest_knowledge
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

JOB_DOCUMENTS = 600


def words(rng: random.Random, count: int) -> str:
    vocabulary = ["leave", "policy", "robot", "charging", "error", "password", "employee", "manager", "request",
                  "approval", "battery", "dock", "contacts", "security", "holiday", "payroll", "schedule"]  # fmt: skip
    return " ".join(f"{rng.choice(vocabulary)}{rng.randrange(1000)}" for _ in range(count)) + "."


class JobEncoding:
    """Counts the chunks background work (jobs) has sent through the encoder: batch by batch, each of which
    takes its own turn at the encoder (a full batch counted as `batch_size` chunks)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, batch_size: int) -> None:
        self.chunks, self._guard = 0, threading.Lock()
        turn = EncoderTurns.turn

        @contextmanager
        def counted(turns: EncoderTurns, background: bool = False) -> Iterator[None]:
            with turn(turns, background):
                yield
            if background:
                with self._guard:
                    self.chunks += batch_size

        monkeypatch.setattr(EncoderTurns, "turn", counted)


def test_small_uploads_and_searches_stay_fast_while_a_big_job_runs(
    tmp_path: Path, embedder, live_server, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    ingest_knowledge(Settings(_env_file=None, data_dir=tmp_path / "data"))  # type: ignore[call-arg]
    job_encoding = JobEncoding(monkeypatch, Settings(_env_file=None).embedding_batch_size)  # type: ignore[call-arg]
    url = live_server()
    rng = random.Random(3)
    client = httpx.Client(base_url=url, timeout=300)
    counter = iter(range(10_000))

    # About 1,800 chunks: minutes of encoding on a CPU.
    job_files = [("files", (f"bulk-{i}.txt", words(rng, 450).encode(), "text/plain")) for i in range(JOB_DOCUMENTS)]
    accepted = client.post("/v1/collections/kb1/documents", files=job_files)
    assert accepted.status_code == 202, accepted.text
    job_url = f"/v1/jobs/{accepted.json()['job_id']}"

    def job() -> dict:  # type: ignore[type-arg]
        return client.get(job_url).json()

    def encoded_meanwhile(call: Callable[[], httpx.Response], status: int) -> int:
        """Chunks the job encoded while `call` was served."""
        before = job_encoding.chunks
        response = call()
        assert response.status_code == status, response.text
        return job_encoding.chunks - before

    def small_upload() -> int:
        files = {"files": (f"note-{next(counter)}.txt", f"Small note. {words(rng, 60)}".encode(), "text/plain")}
        return encoded_meanwhile(lambda: client.post("/v1/collections/kb1/documents", files=files), 201)

    def search() -> int:
        query = {"query": "how many days of annual leave", "collection": "kb1"}
        return encoded_meanwhile(lambda: client.post("/v1/search", json=query), 200)

    wait_until(lambda: job_encoding.chunks, "the job never encoded a chunk")  # its encoder is busy now
    uploads = [small_upload() for _ in range(4)]
    searches = [search() for _ in range(8)]
    assert job()["status"] == "running", "the job ended before the measurements: make it bigger"
    print(f"chunks the job encoded while each request was served: uploads {uploads}, searches {searches}")

    # Served first, a request waits for one slice of the job's encoding at most; behind the job's lock it
    # waited for the rest of a group of ENCODE_GROUP_CHUNKS chunks, and more.
    bound = ENCODE_GROUP_CHUNKS // 2
    assert max(uploads) < bound, f"the job encoded {uploads} chunks while each upload was served"
    assert max(searches) < bound, f"the job encoded {searches} chunks while each search was served"
    client.close()
