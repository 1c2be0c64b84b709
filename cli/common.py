"""What every command shares: the consoles, the common options, error exits, and the ways to reach the data.

The stack (models, Chroma, LlamaIndex's chunker) takes seconds to import: each command imports what it uses,
so `rag --help`, `docs list` and `collections list` start at once. Keep heavy imports out of this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rag.config import get_settings

if TYPE_CHECKING:
    from ingest.ownership import Owner
    from ingest.pipeline import IngestPipeline
    from ingest.remote import RemoteWriter
    from rag.storage.registry.types import Registry

console = Console()
err_console = Console(stderr=True)

CollectionOption = Annotated[
    str | None, typer.Option("--collection", "-c", help="Collection name (default: RAG_DEFAULT_COLLECTION, 'sample').")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print the error; the caller raises what this returns, so the exit stays visible where it happens."""
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def print_listing(
    records: Sequence[Any],
    as_json: bool,
    columns: Sequence[str],
    row: Callable[[Any], Sequence[str]],
    as_dict: Callable[[Any], dict[str, Any]] = asdict,
) -> None:
    """A listing as a JSON array for scripts (`--json`), or as a table for people."""
    if as_json:
        print(json.dumps([as_dict(r) for r in records], indent=2))
        return
    table = Table(*columns)
    for r in records:
        table.add_row(*row(r))
    console.print(table)


def collection_or_default(name: str | None) -> str:
    """Every command's default collection is the same one: the setting, as for the API."""
    return name or get_settings().default_collection


def local_pipeline() -> IngestPipeline:
    """The local pipeline, for a command that owns the data directory (see `claim_data_dir`)."""
    from ingest.service import build_pipeline
    from rag.retrieval.components import build_components

    return build_pipeline(build_components(get_settings()))


def read_registry() -> Registry:
    """Read-only commands read the registry alone: no models, no Chroma, and no crash recovery, which is
    the business of the process that writes."""
    from rag.storage.registry import open_registry

    return open_registry(get_settings())


def check_collection(name: str) -> None:
    if not read_registry().exists(name):
        raise fail(f"collection {name!r} not found (ingest into it first: rag ingest PATH -c {name})")


def claim_data_dir(command: str) -> RemoteWriter | None:
    """Own the data directory for this command (after any other CLI writer ends), or, when `rag serve`
    owns it, the server to send the work to. With a Chroma server every process sees every write, so
    nobody needs to own the directory."""
    from ingest.ownership import DataDirBusy, claim
    from ingest.remote import RemoteWriter

    settings = get_settings()
    if settings.chroma_url:
        return None
    try:
        claim(settings.data_dir, command, on_wait=_say_waiting)  # held until this process exits
    except DataDirBusy as exc:
        if not exc.owner.url:
            raise fail(f"{exc.message}; stop it, or send the work through its HTTP API") from exc
        err_console.print(f"[dim]{exc.owner.describe()} owns {settings.data_dir}: sending the work through it[/dim]")
        return RemoteWriter(exc.owner.url, next(iter(sorted(settings.api_key_set)), None))
    return None


def _say_waiting(owner: Owner) -> None:
    err_console.print(f"[dim]waiting for {owner.describe()} to finish with {get_settings().data_dir}...[/dim]")
