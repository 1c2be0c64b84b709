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

log = logging.getLogger(__name__)

DEBOUNCE_MS = 300  # a save is often several writes (temp file, rename): one sync after they settle
REFRESH_MS = 5000  # how often the set of watched folders is read again (sources added or removed)


class FolderWatcher:
    def __init__(self, sources: SyncedSources) -> None:
        self.sources = sources
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="source-watch", daemon=True)

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
                        job = self.sources.sync(collection, source_id)
                        log.info("files changed in %s: sync job %s of source %s", folder, job.id, source_id)
                    except Exception:
                        log.exception("could not start the sync of source %s", source_id)
