"""The sync engine over real folders and real git repositories, into the real pipeline (Chroma, keyword index,
registry): a sync adds, changes and removes exactly what the source did, and a resync with no change reads
nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.connectors import SourceUnavailable
from ingest.jobs.sync_jobs import run_sync
from ingest.pipeline import IngestPipeline
from ingest.syncing import SyncReport
from rag.storage.sources import SourceRecord, SourceStore, open_source_store
from tests.integration.sync.gitrepo import commit, new_repo

TEXT = "The {name} policy: employees file {name} requests in PeopleHub at least two weeks ahead."


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def _source(store: SourceStore, kind: str, location: Path | str, **options: object) -> SourceRecord:
    record = SourceRecord(f"src-{kind}", "kb", kind, str(location), dict(options), created_at="2026-01-01")
    return store.add(record)


def _sync(pipeline: IngestPipeline, store: SourceStore, source_id: str) -> SyncReport:
    record = store.get(source_id)
    assert record is not None
    return run_sync(record, pipeline, store)


def _documents(pipeline: IngestPipeline) -> dict[str, str]:
    return {d.document_id: d.metadata.get("origin", "") for d in pipeline.registry.documents("kb")}


def test_a_folder_sync_adds_changes_and_removes_what_the_folder_did(pipeline: IngestPipeline, tmp_path: Path) -> None:
    folder = tmp_path / "share"
    _write(folder, {"leave.md": TEXT.format(name="leave"), "travel.txt": TEXT.format(name="travel"),
                    "it/vpn.md": TEXT.format(name="vpn"), "drafts/wip.md": TEXT.format(name="wip")})  # fmt: skip
    store = open_source_store(pipeline.settings)
    _source(store, "folder", folder, exclude=["drafts/*"])
    first = _sync(pipeline, store, "src-folder")
    assert first.counts == {"added": 3, "changed": 0, "removed": 0, "unchanged": 0, "failed": 0}
    docs = _documents(pipeline)
    assert set(docs) == {"src-folder/leave.md", "src-folder/travel.txt", "src-folder/it/vpn.md"}  # drafts excluded
    assert docs["src-folder/it/vpn.md"] == str((folder / "it/vpn.md").resolve())  # the origin, to open it

    again = _sync(pipeline, store, "src-folder")
    assert again.counts["unchanged"] == 3 and again.results == []  # nothing read: markers equal

    (folder / "leave.md").write_text(TEXT.format(name="parental leave"))
    (folder / "travel.txt").unlink()
    _write(folder, {"it/wifi.md": TEXT.format(name="wifi")})
    os.utime(folder / "it/vpn.md", ns=(1, 1))  # touched, same bytes: read, found unchanged
    third = _sync(pipeline, store, "src-folder")
    assert third.counts == {"added": 1, "changed": 1, "removed": 1, "unchanged": 1, "failed": 0}
    assert set(_documents(pipeline)) == {"src-folder/leave.md", "src-folder/it/vpn.md", "src-folder/it/wifi.md"}
    hits = pipeline.keyword.document_chunks("kb", "src-folder/leave.md")
    assert "parental leave" in hits[0].text
    status = store.get("src-folder")
    assert status is not None and status.last_status == "done" and status.removed == 1 and status.unchanged == 1


def test_a_bad_file_fails_alone_with_its_reason_and_is_tried_again(pipeline: IngestPipeline, tmp_path: Path) -> None:
    folder = tmp_path / "share"
    _write(folder, {"good.md": TEXT.format(name="good")})
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    store = open_source_store(pipeline.settings)
    _source(store, "folder", folder)
    report = _sync(pipeline, store, "src-folder")
    assert report.counts["added"] == 1 and report.counts["failed"] == 1
    failure = report.failures[0]
    assert failure.filename == "broken.pdf" and failure.reason
    record = store.get("src-folder")
    assert record is not None and "broken.pdf" in (record.last_error or "")
    assert _sync(pipeline, store, "src-folder").counts["failed"] == 1  # not marked synced: tried again


def test_kept_documents_stay_when_the_source_keeps_deleted_items(pipeline: IngestPipeline, tmp_path: Path) -> None:
    folder = tmp_path / "share"
    _write(folder, {"a.md": TEXT.format(name="a"), "b.md": TEXT.format(name="b")})
    store = open_source_store(pipeline.settings)
    _source(store, "folder", folder, delete_on_remove=False)
    _sync(pipeline, store, "src-folder")
    (folder / "a.md").unlink()
    assert _sync(pipeline, store, "src-folder").counts["removed"] == 0
    assert set(_documents(pipeline)) == {"src-folder/a.md", "src-folder/b.md"}


def test_a_missing_folder_fails_the_sync_and_removes_nothing(pipeline: IngestPipeline, tmp_path: Path) -> None:
    folder = tmp_path / "share"
    _write(folder, {"a.md": TEXT.format(name="a")})
    store = open_source_store(pipeline.settings)
    _source(store, "folder", folder)
    _sync(pipeline, store, "src-folder")
    folder.rename(tmp_path / "unmounted")
    with pytest.raises(SourceUnavailable):
        _sync(pipeline, store, "src-folder")
    assert set(_documents(pipeline)) == {"src-folder/a.md"}
    record = store.get("src-folder")
    assert record is not None and record.last_status == "failed" and "not there" in (record.last_error or "")


def test_a_git_sync_follows_the_branch_with_permalinks_at_the_synced_commit(
    pipeline: IngestPipeline, tmp_path: Path
) -> None:
    repo = new_repo(tmp_path / "docs-repo")
    first = commit(repo, {"docs/guide.md": TEXT.format(name="guide"), "docs/faq.md": TEXT.format(name="faq"),
                          "docs/old.md": TEXT.format(name="old"), "src/main.py": "print('hi')",
                          "README.md": TEXT.format(name="readme")})  # fmt: skip
    store = open_source_store(pipeline.settings)
    _source(store, "git", repo, subfolder="docs", include=["*.md"])
    report = _sync(pipeline, store, "src-git")
    assert report.counts["added"] == 3 and report.cursor == first
    docs = _documents(pipeline)
    assert set(docs) == {"src-git/guide.md", "src-git/faq.md", "src-git/old.md"}  # only the sub-folder
    assert docs["src-git/guide.md"] == f"{repo}@{first}:docs/guide.md"

    assert _sync(pipeline, store, "src-git").counts["unchanged"] == 3  # same commit: nothing read
    changes = {"docs/guide.md": TEXT.format(name="new guide"), "docs/old.md": None,
               "docs/new.md": TEXT.format(name="new"), "README.md": "changed outside the folder"}  # fmt: skip
    second = commit(repo, changes)
    report = _sync(pipeline, store, "src-git")
    assert report.counts == {"added": 1, "changed": 1, "removed": 1, "unchanged": 1, "failed": 0}
    docs = _documents(pipeline)
    assert set(docs) == {"src-git/guide.md", "src-git/faq.md", "src-git/new.md"}
    assert docs["src-git/guide.md"] == f"{repo}@{second}:docs/guide.md"
    assert docs["src-git/faq.md"] == f"{repo}@{first}:docs/faq.md"  # unchanged: still the commit it was read at


def test_a_git_url_is_cloned_then_fetched(pipeline: IngestPipeline, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "upstream")
    commit(repo, {"a.md": TEXT.format(name="a")})
    store = open_source_store(pipeline.settings)
    _source(store, "git", f"file://{repo}", branch="main")
    assert _sync(pipeline, store, "src-git").counts["added"] == 1
    commit(repo, {"b.md": TEXT.format(name="b")})
    assert _sync(pipeline, store, "src-git").counts == {"added": 1, "changed": 0, "removed": 0, "unchanged": 1,
                                                        "failed": 0}  # fmt: skip
    assert (pipeline.settings.data_dir / "sources" / "src-git" / "repo.git" / "HEAD").exists()
