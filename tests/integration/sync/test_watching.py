"""The folder watcher on a real folder (real inotify events through watchfiles) and a real source and job store:
a change seen while a sync of its source is already running, which may have listed the folder before the
change, gets a sync of its own once that one ends (found by benchmarks/sync_watch_latency.py: an edit in a
2,000-file folder stayed unsynced)."""

from __future__ import annotations

from pathlib import Path

from ingest.synced_sources import SyncedSources
from ingest.watching import FolderWatcher
from rag.storage.jobs import Job
from rag.storage.jobs.sqlite import SqliteJobStore
from rag.storage.sources.sqlite import SqliteSourceStore
from tests.waiting import wait_until


class ObservedSources(SyncedSources):
    """The real SyncedSources, noting each sync asked for, so the test knows the watcher saw the change."""

    asked: int = 0

    def sync(self, collection: str, source_id: str) -> Job:
        self.asked += 1
        return super().sync(collection, source_id)


def test_a_change_during_a_running_sync_gets_a_sync_of_its_own(tmp_path: Path) -> None:
    folder = tmp_path / "share"
    folder.mkdir()
    (folder / "a.md").write_text("Parking: the garage opens at seven.")
    database = tmp_path / "registry.sqlite"
    store, jobs = SqliteSourceStore(database), SqliteJobStore(database)
    sources = ObservedSources(store, jobs, jobs.submit_sync)
    record = sources.add("kb", "folder", str(folder), {}, None)
    running = sources.sync("kb", record.id)
    claimed = jobs.claim("runner-1", 600.0, 3)
    assert claimed is not None and claimed.id == running.id  # running: it listed the folder before the edit

    watcher = FolderWatcher(sources).start()
    try:
        before = wait_until(lambda: sources.asked, "the watcher's first look")
        for attempt in range(100):  # the watch starts a moment after the first look: an earlier write goes unseen
            (folder / f"edit-{attempt}.md").write_text("Canteen: lunch is served from noon.")
            try:  # one write at a time, so no event of it is still on its way once one has arrived
                wait_until(lambda: sources.asked > before, "the watcher saw the change", timeout=5)
                break
            except AssertionError:
                continue
        assert sources.asked > before
        assert store.get(record.id).job_id == running.id  # type: ignore[union-attr]  # absorbed by the running sync
        jobs.record(running.id, "runner-1", status="done")
        follow_up = wait_until(
            lambda: (current := store.get(record.id)) is not None and current.job_id != running.id and current.job_id,
            "a sync started after the running one ended",
        )
        assert jobs.get(follow_up).status == "queued"  # type: ignore[union-attr]  # it lists the folder anew
    finally:
        watcher.stop()
