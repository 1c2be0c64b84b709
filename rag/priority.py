"""CPU priority for bulk work: generation and background ingestion run niced, so searches, uploads and the
event loop get the cores first when they need them, and bulk work has every idle cycle otherwise.

On Linux the nice value belongs to a thread (and the threads it starts inherit it), so lowering it in the
thread that runs llama.cpp or an ingestion job touches nothing else. Elsewhere this does nothing.
"""

from __future__ import annotations

import os
import sys
import threading

BULK_NICENESS = 10


def lower_this_thread() -> None:
    """Run the calling thread (and the threads it starts) at `BULK_NICENESS`; raising niceness needs no rights."""
    if sys.platform != "linux":
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), BULK_NICENESS))
    except OSError:  # a sandbox that forbids it: bulk work then competes as equals, as before
        pass
