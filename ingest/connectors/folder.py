"""The `folder` connector: a local or mounted folder, its sub-folders included.

The marker is the file's mtime and size, which a listing gets without opening the file; when it changes
the engine reads the file and the pipeline compares its content hash, so a file touched but not changed
comes back `unchanged`. Which files: those `rag ingest DIR` takes (ingest/folders.py: supported types,
no hidden files, `.ragignore`, no symlink out of the folder).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.connectors.base import ConnectorContext, Item, SourceUnavailable
from ingest.folders import folder_files


class FolderConnector:
    def __init__(self, location: str, options: dict[str, Any], context: ConnectorContext) -> None:
        self.root = Path(location).expanduser()
        self.cursor: str | None = None

    def list_items(self) -> Iterator[Item]:
        if not self.root.is_dir():  # unmounted or moved: not "every file was deleted"
            raise SourceUnavailable(f"folder {str(self.root)!r} is not there (or not a folder)")
        for path, relative in folder_files(self.root, recursive=True).files:
            try:
                stat = path.stat()
            except FileNotFoundError:  # deleted since the walk: the next sync removes it
                continue
            yield Item(relative, f"{stat.st_mtime_ns}:{stat.st_size}", stat.st_size, str(path.resolve()))

    def read(self, item: Item) -> bytes:
        return (self.root / item.key).read_bytes()
