"""Roles, scopes and the key store's rules, without a server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.permissions import role_needed
from rag.access import Principal, parse_collections
from rag.errors import Conflict, NotFound, Unprocessable
from rag.storage.engine import Database
from rag.storage.keys import KeyStore
from rag.storage.keys.postgres import PostgresKeyStore
from rag.storage.keys.sqlite import SqliteKeyStore


def test_a_new_route_that_writes_needs_a_writer_until_it_is_listed_as_read_only() -> None:
    assert role_needed("POST", "/v1/something-new") == "writer"
    assert role_needed("PATCH", "/v1/collections/{name}") == "writer"
    assert role_needed("POST", "/v1/search") == "reader"
    assert role_needed("GET", "/v1/anything") == "reader"
    assert role_needed("GET", "/metrics") == "admin"


def test_roles_include_the_ones_below_and_scopes_are_exact_names() -> None:
    writer = Principal("w", "writer", frozenset({"hr"}))
    assert writer.may("reader") and writer.may("writer") and not writer.may("admin")
    assert writer.sees("hr") and not writer.sees("HR") and not writer.sees("hr2")
    assert Principal("a", "admin").sees("anything")


def test_collections_parse_from_a_comma_list_and_an_empty_scope_is_refused() -> None:
    assert parse_collections(" hr , handbook ") == frozenset({"hr", "handbook"})
    assert parse_collections(None) is None
    with pytest.raises(Unprocessable):
        parse_collections(" , ")


@pytest.fixture(params=["sqlite", "postgres"])
def key_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyStore]:
    if request.param == "sqlite":
        store: KeyStore = SqliteKeyStore(tmp_path / "keys.sqlite")
    else:
        database = Database(request.getfixturevalue("database_url"))
        database.migrate()
        request.addfinalizer(database.close)
        store = PostgresKeyStore(database)
    yield store
    store.close()


def test_the_store_keeps_digests_and_live_names_are_unique(key_store: KeyStore) -> None:
    store = key_store
    key = store.create("bot", "reader", frozenset({"hr"}))
    assert store.lookup(key) == Principal("bot", "reader", frozenset({"hr"}))
    assert store.lookup(key + "x") is None
    with pytest.raises(Conflict):
        store.create("bot", "admin", None)
    with pytest.raises(Unprocessable):
        store.create("has space", "reader", None)
    store.revoke("bot")
    assert store.lookup(key) is None and store.records() == []
    assert store.has_keys()  # auth stays on: revoking every key never opens the server
    with pytest.raises(NotFound):
        store.revoke("bot")
    again = store.create("bot", "admin", None)  # the name is free again, the old key still dead
    assert store.lookup(again) == Principal("bot", "admin", None) and store.lookup(key) is None


def test_the_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    SqliteKeyStore(tmp_path / "keys.sqlite").close()
    assert (tmp_path / "keys.sqlite").stat().st_mode & 0o077 == 0
