"""SQLite files written by earlier releases open with today's stores: the columns added since are added."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rag.storage.jobs.sqlite import SqliteJobStore
from rag.storage.registry.sqlite import SqliteRegistry

# The first release's tables, before writer leases and job leases.
FIRST_RELEASE = """
CREATE TABLE collections (name TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL);
CREATE TABLE documents (
    collection TEXT NOT NULL, document_id TEXT NOT NULL, filename TEXT NOT NULL, size INTEGER NOT NULL,
    sha256 TEXT NOT NULL, version TEXT, pending_version TEXT, status TEXT NOT NULL,
    chunk_count INTEGER NOT NULL DEFAULT 0, pages INTEGER, metadata TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (collection, document_id)
);
CREATE TABLE jobs (
    id TEXT PRIMARY KEY, collection TEXT NOT NULL, status TEXT NOT NULL, files_total INTEGER NOT NULL,
    files_done INTEGER NOT NULL DEFAULT 0, chunks_done INTEGER NOT NULL DEFAULT 0,
    results TEXT NOT NULL DEFAULT '[]', error TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
INSERT INTO collections VALUES ('kb', '', 't0');
INSERT INTO documents (collection, document_id, filename, size, sha256, version, status, chunk_count, metadata,
    created_at, updated_at) VALUES ('kb', 'd1', 'a.txt', 3, 'abc', 'v1', 'ready', 2, '{"team": "hr"}', 't0', 't0');
INSERT INTO jobs (id, collection, status, files_total, created_at, updated_at)
    VALUES ('j1', 'kb', 'queued', 1, 't0', 't0');
"""


def columns(path: Path, table: str) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def test_a_first_release_registry_file_gains_the_writer_job_lease_ocr_and_source_columns(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(FIRST_RELEASE)

    registry, jobs = SqliteRegistry(path, tmp_path), SqliteJobStore(path)

    assert columns(path, "documents")[-1] == "writer"
    assert columns(path, "jobs")[-6:] == [
        "worker", "heartbeat_at", "takeovers", "ocr_pages_done", "ocr_pages_total", "source_id",
    ]  # fmt: skip
    document = registry.get("kb", "d1")
    assert document is not None and document.metadata == {"team": "hr"} and document.writer is None
    claimed = jobs.claim("w1", lease_s=60, max_takeovers=3)
    assert claimed is not None and claimed.id == "j1" and claimed.worker == "w1" and claimed.takeovers == 0
    assert (claimed.ocr_pages_done, claimed.ocr_pages_total) == (0, 0)
    sync = jobs.submit_sync("sync-src-1-a", "kb", "src-1")  # one sync at a time per source holds in old files too
    assert jobs.submit_sync("sync-src-1-b", "kb", "src-1").id == sync.id == "sync-src-1-a"
    registry.begin("kb", "d1", "a.txt", 4, "abcd", "v2", {}, writer="lease-1")
    finished = registry.finish(
        "kb", "d1", filename="a.txt", size=4, sha256="abcd", version="v2", chunk_count=1, pages=None, metadata={},
        left_by="lease-1",
    )  # fmt: skip
    assert finished and registry.get("kb", "d1").version == "v2"  # type: ignore[union-attr]


def test_an_answer_log_from_before_document_filters_gains_the_scope_column(tmp_path: Path) -> None:
    from rag.storage.answers import AnswerRecord
    from rag.storage.answers.sqlite import SqliteAnswerLog

    path = tmp_path / "answers.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE answers (id TEXT PRIMARY KEY, collection TEXT NOT NULL, question TEXT, answer TEXT,"
            " sources TEXT, abstained INTEGER NOT NULL, abstain_reason TEXT, mode TEXT NOT NULL,"
            " created_at TEXT NOT NULL);"
            "INSERT INTO answers VALUES ('ans-old', 'hr', 'q?', 'a.', '[]', 0, NULL, 'generate', 't0');"
        )
    log = SqliteAnswerLog(path)
    try:
        assert columns(path, "answers")[-1] == "scope"
        assert log.get("ans-old").scope is None  # type: ignore[union-attr]
        log.record(AnswerRecord("ans-new", "hr", "q?", "a.", [], False, None, "generate", scope="department=hr"))
        assert log.get("ans-new").scope == "department=hr"  # type: ignore[union-attr]
    finally:
        log.close()
