"""The original bytes of ingested files, kept so the API can render a cited PDF page or hand the file back.

Stored per collection under the content's sha256 (`<data>/originals/<collection>/<sha256>`): the
registry's `sha256` finds the file, identical files share one copy, and nothing the client named is
ever part of a path. Files are already bounded by `RAG_MAX_FILE_BYTES`. What was read off a file that
its bytes do not hold (the word boxes OCR found) is kept beside it, `<sha256><suffix>`, and goes with it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


class OriginalStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, collection: str, sha256: str) -> Path | None:
        """The stored file, or None when it was never kept (ingested before originals were kept)."""
        path = self.root / collection / sha256
        return path if path.is_file() else None

    def save(self, collection: str, sha256: str, data: bytes, suffix: str = "") -> None:
        """Keep the file (once per content), or with a `suffix` what was read off it (replaced each time)."""
        folder = self.root / collection
        if not suffix and (folder / sha256).is_file():
            return
        folder.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, folder / f"{sha256}{suffix}")

    def discard(self, collection: str, sha256: str, still_used: set[str]) -> None:
        """Remove a copy no live document of the collection points to any more, and what was kept beside it."""
        if sha256 not in still_used:
            for path in (self.root / collection).glob(f"{sha256}*"):  # a hex name: no glob characters
                path.unlink(missing_ok=True)

    def discard_collection(self, collection: str) -> None:
        shutil.rmtree(self.root / collection, ignore_errors=True)
