"""What a connector is: a source of documents that lists its items with a version marker and reads one on demand.

The sync engine (ingest/syncing.py) compares the markers with those it stored last time and reads only the
items whose marker changed, so a marker must be cheap to get (file mtime and size, a git blob id, an ETag)
and must change whenever the bytes do. Each connector is a module of its own beside this one; the factory
(ingest/connectors/__init__.py) picks one by kind, built-in or from a plugin's entry point.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rag.errors import RagError


@dataclass(frozen=True)
class Item:
    """One document the source holds now."""

    key: str  # stable within the source: a relative path, a URL
    marker: str  # changes whenever the bytes do; equal markers mean the stored document is current
    size: int  # bytes (0 when the source cannot say before reading)
    origin: str  # where a person opens the original: a path, a URL, a permalink
    kind: str | None = None  # a file name whose extension picks the loader, when the key's cannot ("page.html")


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector may use besides its own location and options."""

    source_id: str
    workdir: Path  # a folder of its own for what it keeps between syncs (a git clone)
    cursor: str | None  # what the source's last complete sync recorded (a git commit)


class Connector(Protocol):
    cursor: str | None  # after list_items: what to record once this sync completes (e.g. the synced commit)

    def list_items(self) -> Iterable[Item]:
        """Every item the source holds now. Raises `SourceUnavailable` when the source cannot be read at all
        (a missing folder is not an empty one: nothing must be removed because of it)."""
        ...

    def read(self, item: Item) -> bytes: ...


class ConnectorFactory(Protocol):
    def __call__(self, location: str, options: dict[str, Any], context: ConnectorContext) -> Connector: ...


class SourceUnavailable(RagError):
    """The source cannot be listed now; the sync fails and changes nothing."""

    status_code = 502
