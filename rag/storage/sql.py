"""What a store's shared query set runs on: one interface both engines offer, so the SQL is written once.

Queries are written with PostgreSQL's `%s` placeholders (SQLite's runner turns them into `?`) and read rows
as dicts keyed by column name. What differs between the engines (row locks, clocks, JSON columns, "insert
unless present") stays in each store's engine module.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

Row = dict[str, Any]


class DuplicateRow(Exception):
    """A write broke a unique constraint (the same on both engines, so a store can answer `Conflict`)."""


class Sql(Protocol):
    """One engine's way to run a store's queries."""

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """The rows a statement returns (none for a statement that returns no rows)."""
        ...

    def change(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run a write; the number of rows it changed. Raises `DuplicateRow` on a unique-constraint violation."""
        ...

    def transaction(self) -> AbstractContextManager[Sql]:
        """The statements run through what this yields commit together or, on any error, not at all."""
        ...
