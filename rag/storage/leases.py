"""Writer leases: which processes are writing documents right now, so recovery spares their work.

A document being written carries its writer's lease id in the registry. Each writing process holds
an exclusive `flock` on `<data>/writers/<lease>.lock` for as long as it lives; the kernel drops it
when the process ends, however it ends (kill -9 included). A pending document whose lease file is
no longer locked was left by a writer that is really gone; any other is still being worked on.
A process that ends normally removes its own file on the way out; a killed one's is removed by the next
`live_writers` to find it unlocked.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import threading
import uuid
from pathlib import Path

LEASES_DIR = "writers"

_leases: dict[Path, tuple[str, int]] = {}  # leases folder -> (this process's lease id, locked fd)
_guard = threading.Lock()


def _folder(data_dir: Path) -> Path:
    return data_dir.resolve() / LEASES_DIR


def writer_lease(data_dir: Path) -> str:
    """This process's lease id for `data_dir`, taken on first use and held until the process ends."""
    folder = _folder(data_dir)
    with _guard:
        if folder in _leases:
            return _leases[folder][0]
        folder.mkdir(parents=True, exist_ok=True)
        lease = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        # Locked under a name recovery ignores, then renamed (the lock stays with the file): a recovery
        # running meanwhile never finds the lease unlocked and takes its writer for gone.
        staging = folder / f"{lease}.new"
        fd = os.open(staging, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh name: nobody else can hold it
        staging.rename(folder / f"{lease}.lock")
        if not _leases:
            atexit.register(release_writer_leases)
        _leases[folder] = (lease, fd)
        return lease


def release_writer_leases() -> None:
    """Remove this process's lease files (at exit). Unlinked while still locked, so no recovery running
    meanwhile can take the lease for a dead writer's before its file is gone."""
    with _guard:
        for folder, (lease, fd) in list(_leases.items()):
            if not lease.startswith(f"{os.getpid()}-"):  # a forked child's exit: the lease is its parent's
                continue
            (folder / f"{lease}.lock").unlink(missing_ok=True)
            os.close(fd)
            del _leases[folder]


def live_writers(data_dir: Path) -> set[str]:
    """Lease ids of the processes writing `data_dir` now; the files of writers that are gone are removed."""
    folder = _folder(data_dir)
    with _guard:
        mine = _leases.get(folder)
    live = {mine[0]} if mine else set()
    if not folder.is_dir():
        return live
    for path in folder.glob("*.lock"):
        lease = path.stem
        if lease in live:
            continue
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:  # another process cleaned it up meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            live.add(lease)
        else:
            path.unlink(missing_ok=True)  # its writer is gone; the id is never reused
        finally:
            os.close(fd)
    return live
