"""Roles, scopes and the key store's rules, without a server."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from api.permissions import authorize, caller_var, role_needed
from rag.access import Principal, key_digest, parse_collections, parse_where
from rag.errors import Conflict, Forbidden, NotFound, Unprocessable
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


def test_a_document_filter_parses_from_where_clauses_and_admits_string_metadata_only() -> None:
    scope = parse_where(["department=hr, people", "region=eu"])
    assert scope is not None and scope.filters == {"department": ["hr", "people"], "region": ["eu"]}
    assert str(scope) == "department=hr,people and region=eu"
    assert scope.admits({"department": "people", "region": "eu", "other": 1})
    assert not scope.admits({"department": "people"})  # every key must match
    assert not scope.admits({"department": "finance", "region": "eu"})
    assert not parse_where(["year=2024"]).admits({"year": 2024})  # type: ignore[union-attr]
    assert parse_where(["a=1", "b=2"]) == parse_where(["b=2", "a=1"])  # one scope, however it was written
    assert parse_where(scope.filters) == scope and parse_where(None) is None and parse_where([]) is None
    assert scope.admits_document("x.txt", "x.txt", {"department": "hr", "region": "eu"})
    by_id = parse_where(["document_id=a.txt"])
    assert by_id is not None and not by_id.admits_document("b.txt", "b.txt", {"document_id": "a.txt"})


@pytest.mark.parametrize(
    "clauses, says",
    [
        (["department"], "KEY=VALUE"),
        (["department="], "KEY=VALUE"),
        (["=hr"], "KEY=VALUE"),
        (["page=3"], "differs between a document's chunks"),
        (["a=1", "a=2"], "given twice"),
        (["$where=1"], "invalid key"),
    ],
)
def test_a_document_filter_that_cannot_be_meant_is_refused_saying_why(clauses: list[str], says: str) -> None:
    with pytest.raises(Unprocessable, match=re.escape(says)):
        parse_where(clauses)


def test_a_key_with_a_document_filter_only_reads() -> None:
    scope = parse_where(["department=hr"])
    caller = Principal("hr-bot", "admin", frozenset({"hr"}), scope)
    token = caller_var.set(caller)
    try:
        assert authorize("GET", "/v1/collections/{name}/export") is caller
        assert authorize("POST", "/v1/query") is caller
        assert authorize("POST", "/v1/answers/{answer_id}/feedback") is caller
        for method, route in [("POST", "/v1/collections/{name}/documents"), ("DELETE", "/v1/collections/{name}"),
                              ("POST", "/v1/imports"), ("POST", "/v1/collections")]:  # fmt: skip
            with pytest.raises(Forbidden, match="only read"):
                authorize(method, route)
    finally:
        caller_var.reset(token)


def test_the_store_keeps_a_keys_document_filter(key_store: KeyStore) -> None:
    scope = parse_where(["department=hr,people", "source_id=src-1"])
    key = key_store.create("filtered", "reader", frozenset({"hr"}), scope)
    assert key_store.lookup(key) == Principal("filtered", "reader", frozenset({"hr"}), scope)
    plain = key_store.create("plain", "reader", None)
    assert key_store.lookup(plain) == Principal("plain", "reader")
    records = {r.name: r for r in key_store.records()}
    assert records["filtered"].documents == {"department": ["hr", "people"], "source_id": ["src-1"]}
    assert records["plain"].documents is None


def test_a_keys_file_from_before_document_filters_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite"
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(
            "CREATE TABLE api_keys (id INTEGER PRIMARY KEY, name TEXT NOT NULL, digest TEXT NOT NULL UNIQUE,"
            " role TEXT NOT NULL, collections TEXT, created_at TEXT NOT NULL, revoked_at TEXT);"
            f" INSERT INTO api_keys (name, digest, role, created_at) VALUES ('old', '{key_digest('rag_old')}',"
            " 'reader', 't0');"
        )
    store = SqliteKeyStore(path)
    try:
        assert store.lookup("rag_old") == Principal("old", "reader")
        key = store.create("new", "reader", None, parse_where(["team=a"]))
        assert store.lookup(key).documents == parse_where(["team=a"])  # type: ignore[union-attr]
    finally:
        store.close()
