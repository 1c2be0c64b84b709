"""PostgreSQL as the shared state (RAG_DATABASE_URL): migrations, atomic versions, leases, several servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from rag.retrieval.keyword import KeywordIndex
from rag.storage.chunks.postgres import PostgresKeywordStore
from rag.storage.engine import Database, migrations
from rag.storage.registry.postgres import PostgresRegistry
from rag.types import Chunk
from tests.conftest import BIN, ROOT, free_port, server_process
from tests.fakes import fake_openai_server


def test_migrations_started_together_apply_once(database_url: str) -> None:
    databases = [Database(database_url, pool_size=1) for _ in range(4)]
    start, applied, errors = threading.Barrier(4), [], []

    def migrate(database: Database) -> None:
        start.wait()
        try:
            applied.append(database.migrate())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(d,)) for d in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for database in databases:
        database.close()
    names = [m.name for m in migrations()]
    assert not errors and sorted(applied, key=len) == [[], [], [], names]  # one process did all, the others none
    with psycopg.connect(database_url) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY version")] == names
    later = Database(database_url)
    assert later.migrate() == []  # and a later start has nothing to do
    later.close()


def version_chunks(version: str, n: int) -> list[Chunk]:
    return [Chunk(f"manual#{version}#{i}", "manual", "c1", f"pump manual {version} part {i}", {}) for i in range(n)]


def test_a_new_version_becomes_visible_all_at_once_to_another_reader(database_url: str) -> None:
    writer_db, reader_db = Database(database_url), Database(database_url)
    writer_db.migrate()
    writer, reader = KeywordIndex(PostgresKeywordStore(writer_db)), KeywordIndex(PostgresKeywordStore(reader_db))
    writer.replace_document("c1", "manual", "v0", version_chunks("v0", 40))
    ranked: list[frozenset[str]] = []  # what the reader's BM25 index holds: (version, count) per search
    searched: list[frozenset[str]] = []  # the versions of the chunks a search returns
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            ids = [chunk_id for chunk_id, _ in reader.ranked("c1", "pump manual", 100)]
            ranked.append(frozenset(i.split("#")[1] for i in ids) | {f"n={len(ids)}"})
            searched.append(frozenset(h.chunk_id.split("#")[1] for h in reader.search("c1", "pump manual", 100)))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        v, deadline = 0, time.monotonic() + 300
        while (len(ranked) < 30 or v < 10) and time.monotonic() < deadline:  # a loaded machine reads slowly
            v += 1
            writer.replace_document("c1", "manual", f"v{v}", version_chunks(f"v{v}", 40))
    finally:
        done.set()
        thread.join(timeout=120)
        writer_db.close()
        reader_db.close()
    assert len(ranked) >= 30 and all(len(s) == 2 and "n=40" in s for s in ranked), {s for s in ranked if len(s) != 2}
    assert len(set(ranked)) > 2  # the reader did see versions change while it read
    # A search racing a swap may find the version it ranked already gone (no hits, as with SQLite); never a mix.
    assert all(len(s) <= 1 for s in searched), {s for s in searched if len(s) > 1}


LEASE_HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
from rag.storage.registry.postgres import PostgresRegistry
from rag.storage.engine import open_database
print(PostgresRegistry(open_database({url!r})).writer_lease(), flush=True)
time.sleep(600)
"""


def test_a_writer_lease_lives_as_long_as_its_process_on_any_machine(database_url: str) -> None:
    script = LEASE_HOLDER.format(root=str(ROOT), url=database_url)
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    database = Database(database_url)
    try:
        assert holder.stdout is not None
        lease = holder.stdout.readline().strip()
        registry = PostgresRegistry(database)
        mine = registry.writer_lease()
        assert lease.startswith("pg-") and lease != mine and {lease, mine} <= registry.live_writers()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        deadline = time.monotonic() + 60
        while lease in registry.live_writers() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert registry.live_writers() >= {mine} and lease not in registry.live_writers()
    finally:
        holder.kill()
        holder.wait()
        database.close()


def rag_env(data: Path, database_url: str, chroma_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "RAG_DATA_DIR": str(data), "RAG_DATABASE_URL": database_url, "RAG_CHROMA_URL": chroma_url,
            "COLUMNS": "200", **extra}  # fmt: skip


def first_found(url: str, query: str, marker: str, since: float, timeout: float = 120) -> tuple[int, float]:
    """Search `url` until a hit holds `marker`: how many searches that took, and the seconds from `since`."""
    deadline, searches = time.monotonic() + timeout, 0
    with httpx.Client(base_url=url, timeout=120) as client:
        while time.monotonic() < deadline:
            searches += 1
            hits = client.post("/v1/search", json={"query": query, "collection": "shared"}).json()["results"]
            if any(marker in h["text"] for h in hits):
                return searches, time.monotonic() - since
            time.sleep(0.02)
    raise TimeoutError(f"{marker!r} never found at {url}")


@pytest.mark.slow
def test_two_servers_over_one_database_and_chroma_server_see_each_others_writes(
    tmp_path: Path, database_url: str, chroma_server: str
) -> None:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "leave.txt").write_text("Annual leave: employees receive 25 days of paid leave per year.")
    cli_env = rag_env(tmp_path / "cli", database_url, chroma_server)
    run = [str(BIN / "rag"), "ingest", str(seed), "-c", "shared"]
    assert subprocess.run(run, env=cli_env, capture_output=True, text=True, timeout=600).returncode == 0
    port_a, port_b = free_port(), free_port()
    with fake_openai_server() as fake:
        env_a = rag_env(tmp_path / "a", database_url, chroma_server, RAG_CHAT_BASE_URL=fake.base_url)
        env_b = rag_env(tmp_path / "b", database_url, chroma_server, RAG_CHAT_BASE_URL=fake.base_url)
        serve = [str(BIN / "rag"), "serve", "--port"]
        with (
            server_process([*serve, str(port_a)], "/health", port_a, tmp_path / "a.log", 600, env=env_a) as url_a,
            server_process([*serve, str(port_b)], "/health", port_b, tmp_path / "b.log", 600, env=env_b) as url_b,
        ):
            assert first_found(url_b, "annual leave days", "25 days", time.monotonic())[0] == 1  # seeded by the CLI

            # A CLI ingest (a third process, its own data dir) is searchable through both servers.
            (seed / "otter.txt").write_text("The otter survey counted 71 river otters along the Wye this spring.")
            done = subprocess.run(run, env=cli_env, capture_output=True, text=True, timeout=600)
            returned = time.monotonic()
            assert done.returncode == 0, done.stderr
            cli_searches, cli_delay = first_found(url_b, "otter survey river otters", "71 river otters", returned)

            # An upload through server A is searchable through server B.
            body = {"text": "The heron census found 12 grey herons nesting by the lake.", "filename": "heron.txt"}
            uploaded = httpx.post(f"{url_a}/v1/collections/shared/documents", json=body, timeout=300)
            returned = time.monotonic()
            assert uploaded.status_code == 201, uploaded.text
            upload_searches, upload_delay = first_found(url_b, "heron census grey herons", "12 grey herons", returned)

            # A deletion through B is gone from A's searches.
            assert httpx.delete(f"{url_b}/v1/collections/shared/documents/otter.txt", timeout=120).status_code == 204
            hits = httpx.post(f"{url_a}/v1/search", json={"query": "otter survey", "collection": "shared"}).json()
            listed = httpx.get(f"{url_a}/v1/collections/shared/documents").json()["documents"]
    print(f"searchable on the other server {cli_delay:.3f} s after `rag ingest` returned,"
          f" {upload_delay:.3f} s after the upload through the first server returned")  # fmt: skip
    assert cli_searches == upload_searches == 1  # visible at the first search after the commit, however long it took
    assert not any("river otters" in h["text"] for h in hits["results"])
    assert {d["document_id"] for d in listed} == {"leave.txt", "heron.txt"}
