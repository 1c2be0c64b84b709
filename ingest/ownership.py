"""Who may write a data directory: with embedded Chroma, one process at a time, its owner.

Embedded Chroma keeps its vector index in the memory of the process that opened it: writes made by
another process stay invisible to it, and its searches even fail ("Error finding id") until it
restarts. So a data directory has one owner: `rag serve` for as long as it runs, or a writing CLI
command while it works. The owner holds an exclusive `flock` on `<data>/owner.lock` (the kernel
drops it when the process ends, however it ends) and writes who it is into that file; a CLI command
that finds a live server there sends its work to the server's URL instead.

`flock` is used directly rather than the `filelock` package: that one truncates the file on every
attempt, which would erase the owner's record, and cannot tell who holds the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.errors import Conflict
from rag.storage.clock import now

LOCK_NAME = "owner.lock"


@dataclass(frozen=True)
class Owner:
    pid: int
    command: str  # e.g. "rag serve", "rag ingest"
    url: str | None  # where a server answers; None for a CLI command (or a server started some other way)
    started_at: str

    @property
    def is_server(self) -> bool:
        return self.command == "rag serve"

    def describe(self) -> str:
        where = f" at {self.url}" if self.url else ""
        return f"`{self.command}` (pid {self.pid}){where}"


class DataDirBusy(Conflict):
    """Another live process owns the data directory."""

    def __init__(self, data_dir: Path, owner: Owner) -> None:
        super().__init__(f"data directory {data_dir} is in use by {owner.describe()}")
        self.owner = owner


@dataclass
class _Claim:
    fd: int
    owner: Owner
    count: int


# Claims are per process and re-entrant: `rag serve` claims before uvicorn starts and the app claims
# again at start-up; tests run several apps over one directory in one process. Keyed by lock path.
_claims: dict[Path, _Claim] = {}
_guard = threading.Lock()


def _lock_path(data_dir: Path) -> Path:
    return data_dir.resolve() / LOCK_NAME


def _read_owner(fd: int) -> Owner | None:
    raw = os.pread(fd, 4096, 0)
    try:
        return Owner(**json.loads(raw))
    except (ValueError, TypeError):
        return None


def _owner_of_held_lock(fd: int) -> Owner | None:
    """The record of whoever holds the lock; it writes it just after locking, so wait a moment for it.
    None: no record came, so the holder is only probing (`current_owner`) or not one of ours."""
    for _ in range(25):
        owner = _read_owner(fd)
        if owner is not None:
            return owner
        time.sleep(0.02)
    return None


def _lock_or_owner(fd: int) -> Owner | None:
    """Take the lock (None), or the live owner; a passing probe is retried rather than taken for an owner."""
    for _ in range(10):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            owner = _owner_of_held_lock(fd)
            if owner is not None:
                return owner
    return Owner(pid=0, command="another process", url=None, started_at="")


def claim(
    data_dir: Path,
    command: str,
    url: str | None = None,
    on_wait: Callable[[Owner], None] | None = None,
) -> Owner:
    """Become the owner of `data_dir`, or raise DataDirBusy naming the live owner.

    With `on_wait`, a CLI owner is waited for (after calling `on_wait` once); a server never is: it
    runs until stopped, so the caller must send its work there or give up.
    """
    path = _lock_path(data_dir)
    with _guard:
        held = _claims.get(path)
        if held is not None:
            held.count += 1
            return held.owner
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            owner = _lock_or_owner(fd)
            if owner is not None:
                if on_wait is None or owner.is_server:
                    raise DataDirBusy(data_dir, owner)
                on_wait(owner)
                fcntl.flock(fd, fcntl.LOCK_EX)
            me = Owner(pid=os.getpid(), command=command, url=url, started_at=now())
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        _claims[path] = _Claim(fd, me, 1)
        return me


def release(data_dir: Path) -> None:
    """Undo one claim; the lock goes when the last claim of this process does."""
    path = _lock_path(data_dir)
    with _guard:
        held = _claims.get(path)
        if held is None:
            return
        held.count -= 1
        if held.count == 0:
            del _claims[path]
            os.ftruncate(held.fd, 0)  # no stale record for the next reader
            os.close(held.fd)  # closing drops the lock


def current_owner(data_dir: Path) -> Owner | None:
    """The live owner of `data_dir` (this process included), or None when nobody holds it."""
    path = _lock_path(data_dir)
    with _guard:
        if path in _claims:
            return _claims[path].owner
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _owner_of_held_lock(fd)  # None: another probe, not an owner
        return None
    finally:
        os.close(fd)
