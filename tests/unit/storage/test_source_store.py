"""The source store (rag/storage/sources/) on both engines: a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.storage.engine import Database
from rag.storage.sources import SourceRecord, SourceStore
from rag.storage.sources.postgres import PostgresSourceStore
from rag.storage.sources.sqlite import SqliteSourceStore


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SourceStore:
    if request.param == "sqlite":
        return SqliteSourceStore(tmp_path / "registry.sqlite")
    database = Database(request.getfixturevalue("database_url"), pool_size=2)
    database.migrate()
    return PostgresSourceStore(database)


def _source(source_id: str, collection: str = "kb") -> SourceRecord:
    options = {"include": ["*.md"], "exclude": [], "delete_on_remove": True}
    return SourceRecord(source_id, collection, "folder", "/srv/docs", options, 60.0, 1000.0, created_at="2026-01-01")


def test_a_source_keeps_its_options_schedule_and_last_outcome(store: SourceStore) -> None:
    store.add(_source("src-a"))
    store.add(_source("src-b", collection="other"))
    store.update("src-a", last_status="done", added=3, unchanged=2, last_error=None, cursor="abc")
    got = store.get("src-a")
    assert got is not None and got.options["include"] == ["*.md"] and got.interval_s == 60.0
    assert got.counts == {"added": 3, "changed": 0, "removed": 0, "unchanged": 2, "failed": 0}
    assert got.cursor == "abc" and got.last_status == "done"
    assert [s.id for s in store.sources("kb")] == ["src-a"] and len(store.sources()) == 2


def test_item_states_are_written_settled_and_forgotten_with_their_source(store: SourceStore) -> None:
    store.add(_source("src-a"))
    store.put_item("src-a", "a.md", None, "doc-a")  # before the document: a crash leaves this row
    store.put_item("src-a", "a.md", "m1", "doc-a")
    store.put_item("src-a", "b.md", "m2", "doc-b")
    store.delete_item("src-a", "b.md")
    items = store.items("src-a")
    assert list(items) == ["a.md"] and items["a.md"].marker == "m1" and items["a.md"].document_id == "doc-a"
    store.delete("src-a")
    assert store.get("src-a") is None and store.items("src-a") == {}


def test_only_one_scheduler_takes_a_due_run(store: SourceStore) -> None:
    store.add(_source("src-a"))
    assert store.take_due("src-a", 1000.0, 1060.0)
    assert not store.take_due("src-a", 1000.0, 1060.0)  # another replica, a moment later
    assert store.get("src-a").next_run_at == 1060.0  # type: ignore[union-attr]
