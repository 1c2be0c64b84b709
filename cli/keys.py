"""`rag keys ...`: the scoped API keys of the HTTP API."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import JsonOption, console, err_console, fail, print_listing
from rag.config import get_settings
from rag.errors import RagError

if TYPE_CHECKING:
    from rag.storage.keys import KeyRecord, KeyStore

keys_app = typer.Typer(
    help="Scoped API keys for the HTTP API (stored hashed in RAG_DATA_DIR, or in RAG_DATABASE_URL).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


def _key_store() -> KeyStore:
    from rag.storage.keys import build_key_store

    return build_key_store(get_settings())


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="A name to list and revoke the key by.")],
    role: Annotated[
        str, typer.Option(help="reader (search, ask, read), writer (+ upload, delete, create collections), admin.")
    ] = "reader",
    collections: Annotated[
        str | None, typer.Option(help="Comma-separated collections the key may see (default: all).")
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            help="Only documents whose metadata KEY is one of the VALUES: KEY=VALUE[,VALUE...]; repeat for"
            " several keys (all must match). The key then only reads."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key and print it, once: only its SHA-256 digest is stored."""
    from rag.access import check_role, parse_collections, parse_where

    try:
        scope = parse_collections(collections)
        documents = parse_where(where or None)
        key = _key_store().create(name, check_role(role), scope, documents)
    except RagError as exc:
        raise fail(exc.message) from exc
    shown = None if scope is None else sorted(scope)
    if as_json:
        filters = None if documents is None else documents.filters
        print(json.dumps({"name": name, "role": role, "collections": shown, "documents": filters, "key": key}))
        return
    print(key)
    seen = f"; documents where {documents}" if documents else ""
    err_console.print(
        f"key {name!r} ({role}; collections: {', '.join(shown) if shown else 'all'}{seen}) created."
        " This is the only time the key is shown: keep it now.",
        highlight=False,
    )


@keys_app.command("list")
def keys_list(as_json: JsonOption = False) -> None:
    """List the keys: name, role, collections, document filter, creation time (never the key)."""
    columns = ("name", "role", "collections", "documents", "created_at")
    print_listing(_key_store().records(), as_json, columns, _key_row)
    if not as_json and get_settings().api_key_set:
        err_console.print("[dim]and the RAG_API_KEYS keys (admin, every collection)[/dim]")


def _key_row(r: KeyRecord) -> tuple[str, ...]:
    collections = ", ".join(r.collections) if r.collections is not None else "all"
    documents = " and ".join(f"{k}={','.join(v)}" for k, v in r.documents.items()) if r.documents else "all"
    return r.name, r.role, collections, documents, r.created_at


@keys_app.command("revoke")
def keys_revoke(name: str) -> None:
    """Revoke a key: a running server refuses it (401) from its next request."""
    try:
        _key_store().revoke(name)
    except RagError as exc:
        raise fail(exc.message) from exc
    console.print(f"revoked key {name}")
