"""Several real processes on one data directory: a server beside CLI commands, writers paused mid-document."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from rag.storage.vectors import chroma_collection_name
from tests.conftest import BIN, KNOWLEDGE, ROOT, free_port, server_process
from tests.fakes import fake_openai_server
from tests.waiting import wait_until

NEW_DOCS = {f"quokka{i:02d}.txt": f"Quokka report {i}: quokka colony number {i} lives on Rottnest." for i in range(30)}


def env_for(data: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "RAG_DATA_DIR": str(data), "COLUMNS": "200", **extra}


def rag(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "rag"), *args], capture_output=True, text=True, env=env, timeout=600)


def write_files(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


@dataclass(frozen=True)
class Call:
    started: float
    ended: float
    what: str
    status: int
    found: bool  # a new document among the hits


class Searcher(threading.Thread):
    """Searches (hybrid re-ranked, plain fusion, filtered) and queries in a loop, recording every answer."""

    KINDS = ("hybrid", "old", "fusion", "filtered", "query")

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, threading.Event()
        self.calls: list[Call] = []

    def rounds_since(self, moment: float) -> int:
        """How many times each kind of call has been made, start to end, since `moment`."""
        return min(sum(1 for c in self.calls if c.what == what and c.started >= moment) for what in self.KINDS)

    def run(self) -> None:
        requests = {
            "hybrid": ("/v1/search", {"query": "quokka colony Rottnest", "collection": "kb1"}),
            "old": ("/v1/search", {"query": "annual leave days", "collection": "kb1"}),
            "fusion": ("/v1/search", {"query": "quokka colony", "collection": "kb1", "rerank": False}),
            "filtered": (
                "/v1/search",
                {"query": "quokka", "collection": "kb1", "filters": {"filename": "quokka07.txt"}},
            ),
            "query": ("/v1/query", {"question": "Where does the quokka colony live?", "collection": "kb1"}),
        }
        with httpx.Client(base_url=self.url, timeout=120) as client:
            while not self.stop.is_set():
                for what, (route, body) in requests.items():
                    started = time.monotonic()
                    response = client.post(route, json=body)
                    hits = response.json().get("results") or response.json().get("sources") or []
                    found = any("Quokka report" in hit.get("text", "") for hit in hits)
                    self.calls.append(Call(started, time.monotonic(), what, response.status_code, found))


@pytest.mark.slow
def test_a_cli_ingest_beside_a_running_server_goes_through_it_and_no_search_fails(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = env_for(data)
    assert rag(["ingest", str(write_files(tmp_path / "old", KNOWLEDGE)), "-c", "kb1"], env).returncode == 0
    port = free_port()
    with fake_openai_server(reply="The quokka colony lives on Rottnest [1].") as fake:
        serve_env = env_for(data, RAG_CHAT_BASE_URL=fake.base_url)
        command = [str(BIN / "rag"), "serve", "--port", str(port)]
        with server_process(command, "/health", port, tmp_path / "server.log", 600, env=serve_env) as url:
            searcher = Searcher(url)
            searcher.start()
            wait_until(lambda: searcher.rounds_since(0.0) >= 1, "no search answered before the ingest")
            started = time.monotonic()
            ingested = rag(["ingest", str(write_files(tmp_path / "new", NEW_DOCS)), "-c", "kb1"], env)
            returned = time.monotonic()
            wait_until(lambda: searcher.rounds_since(returned) >= 1, "no search answered after the ingest")
            searcher.stop.set()
            searcher.join(timeout=300)

            second = rag(["serve", "--port", str(free_port())], serve_env)
            deleted = rag(["docs", "delete", "quokka00.txt", "-c", "kb1"], env)
            listed = json.loads(rag(["docs", "list", "-c", "kb1", "--json"], env).stdout)
            gone = httpx.post(f"{url}/v1/search", json={"query": "quokka report 0", "collection": "kb1", "top_k": 50})

    assert ingested.returncode == 0, ingested.stderr
    assert "30 ingested" in ingested.stdout and f"at http://127.0.0.1:{port}" in ingested.stderr  # sent to the server
    calls = searcher.calls
    assert {c.status for c in calls} == {200}, [c for c in calls if c.status != 200][:5]
    assert sum(1 for c in calls if c.ended < started) >= 5  # the loop really ran before ...
    assert sum(1 for c in calls if started <= c.ended < returned) >= 5  # ... during ...
    first_found = min(c.ended for c in calls if c.found and c.what == "hybrid")
    print(f"new documents searchable {first_found - returned:+.2f} s after `rag ingest` returned")
    # The stated delay: searchable by the time `rag ingest` returns, so every search begun after it finds them.
    after = [c for c in calls if c.started >= returned and c.what in ("hybrid", "fusion", "filtered")]
    assert after and all(c.found for c in after), after
    assert not any(c.found for c in calls if c.ended < started and c.what != "query")

    assert second.returncode == 1 and "in use by `rag serve` (pid" in second.stderr and str(port) in second.stderr
    assert deleted.returncode == 0, deleted.stderr
    assert {d["document_id"] for d in listed} == {*KNOWLEDGE, *NEW_DOCS} - {"quokka00.txt"}
    assert gone.status_code == 200 and "quokka00.txt" not in {h["document_id"] for h in gone.json()["results"]}


# A writer that stops itself (once) right after its first vector upsert: its documents are then pending in the
# registry with vectors written but not yet live, the worst moment for anyone else to "recover" them.
PAUSING_INGEST = """
import signal, sys, threading
sys.path.insert(0, {root!r})
import rag.storage.vectors
real, calls = rag.storage.vectors.ChromaStore.upsert, []
def upsert(self, *args, **kwargs):
    real(self, *args, **kwargs)
    calls.append(1)
    if len(calls) == 1:
        signal.pthread_kill(threading.get_ident(), signal.SIGSTOP)  # os.kill lets this thread run on a while
rag.storage.vectors.ChromaStore.upsert = upsert
from cli.main import main
sys.argv = ["rag", "ingest", {docs!r}, "-c", {collection!r}]
main()
"""


def wait_stopped(pid: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T":
            return
        time.sleep(0.1)
    raise TimeoutError(f"process {pid} never paused")


def pending_rows(data: Path) -> set[str]:
    with sqlite3.connect(data / "registry.sqlite") as db:
        return {r[0] for r in db.execute("SELECT document_id FROM documents WHERE status = 'ingesting'")}


def final_state(data: Path, collection: str, chroma_url: str | None) -> dict[str, object]:
    """Registry, keyword index and vectors of a collection, as sets a clean run can be compared with."""
    with sqlite3.connect(data / "registry.sqlite") as db:
        sql = "SELECT document_id, version, status, chunk_count FROM documents WHERE collection = ?"
        registry = set(db.execute(sql, (collection,)))
    with sqlite3.connect(data / "keyword.sqlite") as db:
        keyword = {r[0] for r in db.execute("SELECT chunk_id FROM chunks WHERE collection = ?", (collection,))}
    code = (
        "import chromadb, json, sys; u = sys.argv[1]; "
        "c = chromadb.HttpClient(host=u.split(':')[1][2:], port=int(u.rsplit(':', 1)[1])) if u.startswith('http')"
        " else chromadb.PersistentClient(path=u); print(json.dumps(c.get_collection(sys.argv[2]).get()['ids']))"
    )  # a fresh process: it sees every write made to the directory
    where = chroma_url or str(data / "chroma")
    chroma_name = chroma_collection_name(collection)
    out = subprocess.run([sys.executable, "-c", code, where, chroma_name], capture_output=True, text=True, check=True)
    return {"registry": registry, "keyword": keyword, "vectors": set(json.loads(out.stdout))}


DOCS = {f"note{i:03d}.txt": f"Note {i}: the lighthouse keeper logs storm number {i}. " * 8 for i in range(60)}
EXTRA = {"extra.txt": "An extra note about the harbour master and the tide tables."}


@pytest.mark.slow
@pytest.mark.parametrize("chroma", ["embedded", "server"])
def test_a_command_beside_a_paused_writer_loses_nothing(tmp_path: Path, chroma: str, request) -> None:  # type: ignore[no-untyped-def]
    chroma_url = request.getfixturevalue("chroma_server") if chroma == "server" else None
    collection = f"paused-{chroma}-{os.getpid()}"
    data = tmp_path / "data"
    env = env_for(data, **({"RAG_CHROMA_URL": chroma_url} if chroma_url else {}))
    docs, extra = write_files(tmp_path / "docs", DOCS), write_files(tmp_path / "extra", EXTRA)
    script = PAUSING_INGEST.format(root=str(ROOT), docs=str(docs), collection=collection)
    writer = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_stopped(writer.pid)
        paused = pending_rows(data)
        assert paused  # documents are half-written right now

        listed = rag(["docs", "list", "-c", collection, "--json"], env)
        assert listed.returncode == 0 and pending_rows(data) == paused  # reading recovers nothing

        second_log = tmp_path / "second.log"
        with open(second_log, "wb") as log:  # the child keeps its own handle
            second = subprocess.Popen([str(BIN / "rag"), "ingest", str(extra), "-c", collection], env=env,
                                      stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
        if chroma_url:  # every process sees a Chroma server's writes: the second writer runs at once ...
            assert second.wait(timeout=600) == 0, second_log.read_text()
            assert pending_rows(data) == paused  # ... and its recovery spared the live writer's documents
        else:  # embedded Chroma has one writer at a time: the second one says it waits for the first, and does
            wait_until(lambda: "waiting for `rag ingest`" in second_log.read_text(), "the second writer did not wait")
            assert second.poll() is None
    finally:
        os.kill(writer.pid, signal.SIGCONT)
    assert writer.wait(timeout=600) == 0, writer.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
    assert second.wait(timeout=600) == 0, second_log.read_text()

    clean_data = tmp_path / "clean"
    clean_env = env_for(clean_data, **({"RAG_CHROMA_URL": chroma_url} if chroma_url else {}))
    clean = f"clean-{chroma}-{os.getpid()}"
    assert rag(["ingest", str(docs), "-c", clean], clean_env).returncode == 0
    assert rag(["ingest", str(extra), "-c", clean], clean_env).returncode == 0
    got, expected = final_state(data, collection, chroma_url), final_state(clean_data, clean, chroma_url)
    assert got == expected and len(got["registry"]) == len(DOCS) + 1  # type: ignore[arg-type]
    assert all(status == "ready" for _, _, status, _ in got["registry"])  # type: ignore[attr-defined]


def test_upload_folders_left_by_a_stop_are_deleted_at_start(tmp_path: Path, embedder, live_server) -> None:  # type: ignore[no-untyped-def]
    """The server stopped just as a job finished (job done, staged files still there), and during a small
    upload (files staged, no job): the next start deletes both folders and keeps a job still to run."""
    import io

    from ingest.jobs.runners import JobQueue, stage
    from ingest.service import build_pipeline
    from rag.config import Settings
    from rag.retrieval.components import build_components

    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    pipeline = build_pipeline(build_components(settings))
    pipeline.registry.ensure_collection("jobs1")
    uploads = settings.data_dir / "uploads"
    queue = JobQueue(pipeline, settings.registry_db, uploads)
    done_id, done_dir = queue.new_upload_dir()
    queue.submit(done_id, "jobs1", [stage(done_dir, i, f"d{i}.txt", io.BytesIO(b"done file")) for i in range(3)])
    queue.wait_idle()
    assert queue.get(done_id).status == "done"  # type: ignore[union-attr]
    for i in range(3):  # as the stop left them: the job done, its staged files still there
        stage(done_dir, i, f"d{i}.txt", io.BytesIO(b"done file"))
    _, small_dir = queue.new_upload_dir()
    stage(small_dir, 0, "small.txt", io.BytesIO(b"a small upload that never finished"))
    waiting = JobQueue(pipeline, settings.registry_db, uploads)
    waiting._enqueue = lambda job_id: None  # type: ignore[method-assign]  # the stop came before it ran
    waiting_id, waiting_dir = waiting.new_upload_dir()
    waiting.submit(waiting_id, "jobs1", [stage(waiting_dir, 0, "w.txt", io.BytesIO(b"a job still to run, walrus"))])

    url = live_server()
    assert not done_dir.exists() and not small_dir.exists()
    deadline = time.monotonic() + 300
    while httpx.get(f"{url}/v1/jobs/{waiting_id}").json()["status"] != "done" and time.monotonic() < deadline:
        time.sleep(0.3)
    hits = httpx.post(f"{url}/v1/search", json={"query": "walrus", "collection": "jobs1"}).json()["results"]
    assert hits[0]["filename"] == "w.txt" and not waiting_dir.exists()
    assert sorted(p.name for p in uploads.iterdir()) == []


@pytest.mark.slow
def test_vectors_another_process_wrote_never_fail_a_search(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    """Embedded Chroma opened here does not see what another process writes ("Error finding id" from
    Chroma); the owner lock keeps writers out of a server, and should one get in anyway (an older
    release, a script), a search still answers, from the keyword index."""
    from ingest.pipeline import Source
    from ingest.service import build_pipeline
    from rag.config import Settings
    from rag.retrieval.components import build_components
    from rag.retrieval.hybrid import Retriever
    from rag.retrieval.rerank import HybridScoreReranker

    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    components = build_components(settings)
    sources = [Source.from_bytes(n, t.encode()) for n, t in KNOWLEDGE.items()]
    build_pipeline(components).ingest(sources, "kb1")
    retriever = Retriever(components, HybridScoreReranker())
    assert retriever.search("kb1", "annual leave").hits
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from rag.config import Settings
from rag.retrieval.components import build_components
from ingest.service import build_pipeline
from ingest.pipeline import Source
pipeline = build_pipeline(build_components(Settings(_env_file=None, data_dir={str(settings.data_dir)!r})))
texts = {NEW_DOCS!r}
pipeline.ingest([Source.from_bytes(n, t.encode()) for n, t in texts.items()], "kb1")
"""
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=600)
    for query, filters in [("quokka colony Rottnest", None), ("quokka", {"filename": "quokka07.txt"})]:
        hits = retriever.search("kb1", query, filters=filters).hits
        assert any(h.filename.startswith("quokka") for h in hits)  # found, if ranked without their vectors
    assert retriever.search("kb1", "annual leave").hits[0].filename == "leave.txt"
