"""The registry under a key's document filter, on both engines: a document the filter does not admit is not
there (get, lists), and collections count only the admitted documents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.access import parse_where, scoped_to
from rag.storage.registry.sqlite import SqliteRegistry
from rag.storage.registry.types import Registry


@pytest.fixture(params=["sqlite", "postgres"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    if request.param == "sqlite":
        yield SqliteRegistry(tmp_path / "registry.sqlite", tmp_path)
        return
    from rag.storage.engine import Database
    from rag.storage.registry.postgres import PostgresRegistry

    database = Database(request.getfixturevalue("database_url"))
    database.migrate()
    yield PostgresRegistry(database)
    database.close()


def _store(registry: Registry, collection: str, document_id: str, chunks: int, metadata: dict[str, Any]) -> None:
    registry.begin(collection, document_id, document_id, 10, "sha-" + document_id, "v1", metadata)
    registry.finish(collection, document_id, filename=document_id, size=10, sha256="sha-" + document_id,
                    version="v1", chunk_count=chunks, pages=None, metadata=metadata)  # fmt: skip


def test_a_document_the_filter_does_not_admit_is_not_there(registry: Registry) -> None:
    _store(registry, "hr", "leave.txt", 2, {"department": "hr"})
    _store(registry, "hr", "salaries.txt", 5, {"department": "finance"})
    _store(registry, "hr", "untagged.txt", 1, {})
    _store(registry, "ops", "runbook.txt", 3, {"department": "people"})
    with scoped_to(parse_where(["department=hr,people"])):
        assert registry.get("hr", "salaries.txt") is None and registry.get("hr", "untagged.txt") is None
        assert registry.get("hr", "leave.txt") is not None
        assert [d.document_id for d in registry.documents("hr")] == ["leave.txt"]
        counts = {c.name: (c.documents, c.chunks) for c in registry.collections()}
        assert counts == {"hr": (1, 2), "ops": (1, 3)}
        assert registry.collection("hr").documents == 1  # type: ignore[union-attr]
    with scoped_to(parse_where(["document_id=untagged.txt"])):
        assert [d.document_id for d in registry.documents("hr")] == ["untagged.txt"]
    assert len(registry.documents("hr")) == 3 and registry.collection("hr").chunks == 8  # type: ignore[union-attr]
