"""The data directory's owner lock and the writer leases, held by real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.ownership import DataDirBusy, claim, current_owner, release
from rag.storage.leases import live_writers, writer_lease
from tests.conftest import ROOT

HOLD = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from {module} import {call}
{call}(Path({data!r}){args})
print("held", flush=True)
time.sleep(600)
"""


def holder(data: Path, module: str, call: str, args: str = "") -> subprocess.Popen[str]:
    """Another process that takes the lock or lease and keeps it until killed."""
    script = HOLD.format(root=str(ROOT), module=module, call=call, data=str(data), args=args)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_live_server_owner_is_named_and_its_lock_dies_with_it(tmp_path: Path) -> None:
    server = holder(tmp_path, "ingest.ownership", "claim", ', "rag serve", url="http://127.0.0.1:8123"')
    try:
        owner = current_owner(tmp_path)
        assert owner is not None and owner.pid == server.pid and owner.url == "http://127.0.0.1:8123"
        with pytest.raises(DataDirBusy, match=r"in use by `rag serve` \(pid \d+\) at http://127.0.0.1:8123"):
            claim(tmp_path, "rag ingest", on_wait=lambda _: pytest.fail("a server is never waited for"))
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    assert current_owner(tmp_path) is None
    me = claim(tmp_path, "rag ingest")
    assert claim(tmp_path, "rag serve") == me  # re-entrant within a process
    release(tmp_path)
    assert current_owner(tmp_path) == me
    release(tmp_path)
    assert current_owner(tmp_path) is None


def test_a_cli_writer_waits_for_another_cli_writer(tmp_path: Path) -> None:
    other = holder(tmp_path, "ingest.ownership", "claim", ', "rag ingest"')
    waited: list[int] = []
    try:

        def on_wait(owner) -> None:  # type: ignore[no-untyped-def]
            waited.append(owner.pid)
            other.terminate()  # the other writer finishes

        started = time.monotonic()
        me = claim(tmp_path, "rag ingest", on_wait=on_wait)
    finally:
        other.kill()
        other.wait()
    assert waited == [other.pid] and me.pid == os.getpid() and time.monotonic() - started < 60
    release(tmp_path)


def test_a_dead_writers_lease_is_seen_as_gone_a_paused_ones_is_not(tmp_path: Path) -> None:
    paused = holder(tmp_path, "rag.storage.leases", "writer_lease")
    dead = holder(tmp_path, "rag.storage.leases", "writer_lease")
    try:
        paused.send_signal(signal.SIGSTOP)
        dead.send_signal(signal.SIGKILL)
        dead.wait()
        mine = writer_lease(tmp_path)
        live = live_writers(tmp_path)
        assert mine in live and any(lease.startswith(f"{paused.pid}-") for lease in live)
        assert not any(lease.startswith(f"{dead.pid}-") for lease in live)
        assert not any(p.name.startswith(f"{dead.pid}-") for p in (tmp_path / "writers").iterdir())  # cleaned up
    finally:
        paused.send_signal(signal.SIGCONT)
        paused.kill()
        paused.wait()


def test_a_writer_that_ends_normally_leaves_no_lease_file_behind(tmp_path: Path) -> None:
    script = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path;"
        f" from rag.storage.leases import writer_lease; print(writer_lease(Path({str(tmp_path)!r})))"
    )
    lease = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert lease.stdout.strip()  # it did take one
    assert list((tmp_path / "writers").iterdir()) == []
