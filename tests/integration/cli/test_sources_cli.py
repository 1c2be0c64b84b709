"""`rag sources` as a user runs it: a real process, a real folder and a real git repository."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from tests.conftest import BIN
from tests.integration.cli.test_cli import rag
from tests.integration.sync.gitrepo import commit, new_repo
from tests.integration.sync.website import website
from tests.waiting import wait_until

TEXT = "The {name} policy: employees file {name} requests in PeopleHub at least two weeks ahead."


def test_add_sync_list_and_remove_a_folder_source(tmp_path: Path) -> None:
    folder, data = tmp_path / "share", tmp_path / "data"
    (folder / "drafts").mkdir(parents=True)
    (folder / "leave.md").write_text(TEXT.format(name="leave"))
    (folder / "travel.txt").write_text(TEXT.format(name="travel"))
    (folder / "drafts" / "wip.md").write_text(TEXT.format(name="wip"))
    added = rag(["sources", "add", "kb", "folder", str(folder), "--exclude", "drafts/*", "--every", "15m"], data)
    assert added.returncode == 0, added.stderr
    source_id = added.stdout.strip()
    assert source_id.startswith("src-")

    first = rag(["sources", "sync", "kb", source_id, "--json"], data)
    assert first.returncode == 0, first.stderr
    status = json.loads(first.stdout)
    assert status["counts"] == {"added": 2, "changed": 0, "removed": 0, "unchanged": 0, "failed": 0}
    assert status["every_s"] == 900 and status["last_status"] == "done"

    again = rag(["sources", "sync", "kb", source_id], data)
    assert again.returncode == 0 and "unchanged 2" in again.stdout  # nothing read
    (folder / "travel.txt").unlink()
    (folder / "leave.md").write_text(TEXT.format(name="parental leave"))
    third = json.loads(rag(["sources", "sync", "kb", source_id, "--json"], data).stdout)
    assert third["counts"] == {"added": 0, "changed": 1, "removed": 1, "unchanged": 0, "failed": 0}
    docs = json.loads(rag(["docs", "list", "-c", "kb", "--json"], data).stdout)
    assert [d["document_id"] for d in docs] == [f"{source_id}/leave.md"]

    listed = rag(["sources", "list", "kb", "--json"], data)
    assert [s["id"] for s in json.loads(listed.stdout)] == [source_id]
    assert source_id in rag(["sources", "list", "kb"], data).stdout
    assert "changed 1" in rag(["sources", "show", "kb", source_id], data).stdout
    removed = rag(["sources", "remove", "kb", source_id], data)
    assert removed.returncode == 0 and "removed 1 document(s)" in removed.stdout
    assert json.loads(rag(["docs", "list", "-c", "kb", "--json"], data).stdout) == []
    assert rag(["sources", "show", "kb", source_id], data).returncode == 1


def test_deleting_a_collection_removes_its_sources_and_answers(tmp_path: Path) -> None:
    from rag.config import Settings
    from rag.storage.answers import AnswerRecord, open_answer_log
    from rag.storage.sources import open_source_store

    folder, data = tmp_path / "share", tmp_path / "data"
    folder.mkdir()
    (folder / "leave.md").write_text(TEXT.format(name="leave"))
    source_id = rag(["sources", "add", "kb", "folder", str(folder), "--every", "15m"], data).stdout.strip()
    assert rag(["sources", "sync", "kb", source_id], data).returncode == 0
    settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
    log = open_answer_log(settings)
    log.record(AnswerRecord("ans-1", "kb", "How do I file leave?", "In PeopleHub.", [], False, None, "extract"))
    log.record(AnswerRecord("ans-2", "other", "Wifi?", "No idea.", [], True, "no_relevant_sources", "extract"))

    deleted = rag(["collections", "delete", "kb", "--yes"], data)
    assert deleted.returncode == 0, deleted.stderr
    assert open_source_store(settings).sources("kb") == []  # no scheduled sync brings the collection back
    assert json.loads(rag(["collections", "list", "--json"], data).stdout) == []
    assert log.get("ans-1") is None and log.get("ans-2") is not None  # another collection's answers stay


def test_a_git_source_and_a_source_that_cannot_be_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    repo = new_repo(tmp_path / "repo")
    head = commit(repo, {"guide.md": TEXT.format(name="guide")})
    source_id = rag(["sources", "add", "kb", "git", str(repo), "--branch", "main"], data).stdout.strip()
    synced = json.loads(rag(["sources", "sync", "kb", source_id, "--json"], data).stdout)
    assert synced["counts"]["added"] == 1 and synced["synced_at"] == head

    missing = rag(["sources", "add", "kb", "folder", str(tmp_path / "nowhere")], data).stdout.strip()
    failed = rag(["sources", "sync", "kb", missing], data)
    assert failed.returncode == 1 and "is not there" in failed.stdout
    assert rag(["sources", "add", "kb", "ftp", "ftp://x"], data).returncode == 2
    assert rag(["sources", "add", "kb", "folder", str(tmp_path), "--every", "soon"], data).returncode == 2


def test_a_web_source_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with website() as site:
        body = f"<p>{TEXT.format(name='expenses')}</p>" * 2
        site.set("/kb/", f"<html><head><title>Expenses</title></head><body><h1>Expenses</h1>{body}</body></html>")
        added = rag(["sources", "add", "kb", "web", f"{site.url}/kb/", "--prefix", "/kb/", "--max-items", "10"], data)
        assert added.returncode == 0, added.stderr
        synced = json.loads(rag(["sources", "sync", "kb", added.stdout.strip(), "--json"], data).stdout)
        assert synced["counts"]["added"] == 1 and synced["options"]["prefix"] == "/kb/"
    refused = rag(["sources", "add", "kb", "s3", "bucket/hr"], data)
    assert refused.returncode == 2 and "s3://bucket" in refused.stderr


def test_watch_syncs_a_folder_source_again_when_a_file_is_saved(tmp_path: Path) -> None:
    """`rag sources watch`: a sync at once, another when a file is saved; Ctrl-C ends it cleanly."""
    folder, data = tmp_path / "share", tmp_path / "data"
    folder.mkdir()
    (folder / "leave.md").write_text(TEXT.format(name="leave"))
    source_id = rag(["sources", "add", "kb", "folder", str(folder)], data).stdout.strip()
    log = tmp_path / "watch.log"
    env = {**os.environ, "RAG_DATA_DIR": str(data), "COLUMNS": "200"}
    with log.open("w") as out:
        watcher = subprocess.Popen(
            [str(BIN / "rag"), "sources", "watch", "kb", source_id], stdout=out, stderr=out, env=env
        )
    try:
        wait_until(lambda: "added 1" in log.read_text(), "the first sync", timeout=600, every=0.5)
        wait_until(lambda: "watching" in log.read_text(), "the watch to start", timeout=600, every=0.5)
        (folder / "travel.md").write_text(TEXT.format(name="travel"))
        wait_until(lambda: log.read_text().count("added 1") == 2, "a sync of the saved file", timeout=600, every=0.5)
        syncs = [line for line in log.read_text().splitlines() if " sync done: " in line]
        assert len(syncs) == 2 and "unchanged 1" in syncs[1]  # the first file was not read again
    finally:
        watcher.send_signal(signal.SIGINT)
        code = watcher.wait(timeout=120)
    assert code == 0, log.read_text()
