"""Near-real-time sync of folder sources: file-system events (watchfiles: inotify on Linux, FSEvents, ...) start
a sync of the source whose folder changed, a moment after a burst of changes settles.

Events are a shortcut, not the truth: they can be missed (a network mount, a watcher restarted, more changes
than the kernel queues), so each sync still compares every file with its stored marker, and the schedule's
periodic full scan catches whatever no event announced. The watcher runs in `rag serve` and `rag worker`;
with several of them a change may be seen by each, and a sync already queued or running absorbs the others.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ingest.synced_sources import SyncedSources
from rag.storage.jobs.types import ACTIVE

log = logging.getLogger(__name__)

DEBOUNCE_MS = 300  # a save is often several writes (temp file, rename): one sync after they settle
REFRESH_MS = 5000  # how often the set of watched folders is read again (sources added or removed)
FOLLOW_UP_POLL_S = 0.1  # how often a follow-up sync looks whether the running sync it waits for has ended


class FolderWatcher:
    def __init__(self, sources: SyncedSources) -> None:
        self.sources = sources
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="source-watch", daemon=True)
        self._following: set[str] = set()  # sources with a follow-up sync waiting for a running one to end
        self._lock = threading.Lock()

    def start(self) -> FolderWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def folders(self) -> dict[Path, list[tuple[str, str]]]:
        """Each watched folder that exists now, with the (collection, source id) pairs that read it."""
        found: dict[Path, list[tuple[str, str]]] = {}
        for record in self.sources.store.sources():
            path = Path(record.location)
            if record.kind == "folder" and path.is_dir():
                found.setdefault(path.resolve(), []).append((record.collection, record.id))
        return found

    def _loop(self) -> None:
        import watchfiles

        watched: set[Path] = set()
        while not self._stop.is_set():
            try:
                folders = self.folders()
            except Exception:  # a busy database: next time
                log.exception("could not read the folder sources to watch")
                folders = {}
            if not folders:
                self._stop.wait(REFRESH_MS / 1000)
                continue
            # A folder newly watched (a new source, or this process starting) syncs once: no event told of
            # what changed before the watch began. (A job: a runner claims it a moment later, once the watch
            # below is in place; a change in that moment is in the folder that sync lists.)
            self._sync_changed(folders, set(folders) - watched)
            watched = set(folders)
            try:
                for changes in watchfiles.watch(
                    *folders, debounce=DEBOUNCE_MS, step=50, stop_event=self._stop, rust_timeout=REFRESH_MS,
                    yield_on_timeout=True, raise_interrupt=False,
                ):  # fmt: skip
                    if changes:
                        self._sync_changed(folders, {Path(path) for _, path in changes})
                    if self.folders() != folders:  # sources added or removed: watch the new set
                        break
            except Exception:  # a folder vanished under the watcher, too many watches: look again shortly
                log.exception("watching the folder sources failed; retrying")
                self._stop.wait(REFRESH_MS / 1000)

    def _sync_changed(self, folders: dict[Path, list[tuple[str, str]]], paths: set[Path]) -> None:
        for folder, owners in folders.items():
            if any(p == folder or p.is_relative_to(folder) for p in paths):
                for collection, source_id in owners:
                    try:
                        self._start_sync(collection, source_id)
                    except Exception:
                        log.exception("could not start the sync of source %s", source_id)

    def _start_sync(self, collection: str, source_id: str) -> None:
        job = self.sources.sync(collection, source_id)
        log.info("files changed: sync job %s of source %s", job.id, source_id)
        # A queued sync will list the folder after this change; a running one may have listed it before, so
        # it cannot stand for this change: one more sync follows once it ends (else the change would wait for
        # the next event or the schedule's full scan, measured: an edit lost in a 2,000-file folder).
        if job.status == "running":
            self._follow_up(collection, source_id, job.id)

    def _follow_up(self, collection: str, source_id: str, running_job_id: str) -> None:
        with self._lock:
            if source_id in self._following:  # its follow-up lists the folder after this change too
                return
            self._following.add(source_id)
        thread = threading.Thread(
            target=self._sync_after, args=(collection, source_id, running_job_id), name="source-watch-follow-up",
            daemon=True,
        )  # fmt: skip
        thread.start()

    def _sync_after(self, collection: str, source_id: str, running_job_id: str) -> None:
        try:
            while not self._stop.wait(FOLLOW_UP_POLL_S):
                job = self.sources.jobs.get(running_job_id)
                if job is None or job.status not in ACTIVE:
                    break
        finally:
            with self._lock:
                self._following.discard(source_id)
        if self._stop.is_set():
            return
        try:
            self._start_sync(collection, source_id)
        except Exception:
            log.exception("could not start the follow-up sync of source %s", source_id)
