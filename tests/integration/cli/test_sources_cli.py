"""`rag sources` as a user runs it: a real process, a real folder and a real git repository."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cli.test_cli import rag
from tests.integration.sync.gitrepo import commit, new_repo
from tests.integration.sync.website import website

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
