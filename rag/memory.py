"""Giving memory back to the system after a big job: parsing a large file, building a keyword index, an export."""

from __future__ import annotations

import ctypes
import gc


def return_freed_memory() -> None:
    """Give the heap a big job freed (an in-memory export, a keyword index build) back to the system
    (glibc keeps freed small blocks for reuse; about 100 MB here). Elsewhere (musl, macOS) this does nothing."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
