"""`rag sources ...`: the sources a collection stays in sync with (folders, git repositories, web sites, S3
buckets, plugins' kinds).

Adding, listing and showing read and write the source store alone. `sync`, `remove` and `watch` write the
collection: locally, or through `rag serve` when it owns the data directory (as `rag ingest` does).
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.common import JsonOption, claim_data_dir, console, err_console, fail, print_listing
from rag.config import get_settings
from rag.errors import RagError

if TYPE_CHECKING:
    from ingest.pipeline import FileResult
    from rag.storage.sources import SourceRecord, SourceStore

sources_app = typer.Typer(help="Sources a collection stays in sync with: folder, git, web, s3.", no_args_is_help=True)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
COUNT_NAMES = ("added", "changed", "removed", "unchanged", "failed")


def register(app: typer.Typer) -> None:
    app.add_typer(sources_app, name="sources")


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `6h`, `1d` in seconds."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise fail(f"not a duration: {text!r} (say 90s, 15m, 6h or 1d)", 2)
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _store() -> SourceStore:
    from rag.storage.sources import open_source_store

    return open_source_store(get_settings())


def _source(collection: str, source_id: str) -> SourceRecord:
    record = _store().get(source_id)
    if record is None or record.collection != collection:
        raise fail(f"source {source_id!r} not found in collection {collection!r} (rag sources list {collection})")
    return record


def status(record: SourceRecord) -> dict[str, Any]:
    """A source as `--json` prints it: the shape GET /v1/collections/{name}/sources/{id} answers."""
    return {
        "id": record.id, "collection": record.collection, "kind": record.kind, "location": record.location,
        "options": record.options, "every_s": record.interval_s, "next_run_at": record.next_run_at,
        "last_sync_at": record.last_sync_at, "last_status": record.last_status, "last_error": record.last_error,
        "counts": record.counts, "synced_at": record.cursor, "job_id": record.job_id, "created_at": record.created_at,
    }  # fmt: skip


@sources_app.command("add")
def add(
    collection: str,
    kind: Annotated[str, typer.Argument(help="folder | git | web | s3 | an installed plugin's kind")],
    location: Annotated[
        str,
        typer.Argument(help="A folder; a git repository's path or URL; a web page or sitemap URL; s3://bucket/prefix"),
    ],
    include: Annotated[list[str] | None, typer.Option("--include", help="Glob of paths to take (repeatable)")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Glob of paths to leave out")] = None,
    keep_deleted: Annotated[
        bool, typer.Option("--keep-deleted", help="Keep a document when its file leaves the source")
    ] = False,
    every: Annotated[str | None, typer.Option("--every", help="Sync on a schedule: 90s, 15m, 6h, 1d")] = None,
    branch: Annotated[str | None, typer.Option("--branch", help="git: the branch (default: HEAD)")] = None,
    subfolder: Annotated[str | None, typer.Option("--subfolder", help="git: only files under this folder")] = None,
    max_items: Annotated[int | None, typer.Option("--max-items", min=1, help="Sync at most this many items")] = None,
    prefix: Annotated[str | None, typer.Option("--prefix", help="web: only pages under this path")] = None,
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint-url", help="s3: an S3-compatible store's URL (default: AWS)")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="s3: the bucket's region")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="s3: the AWS profile to use")] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a source to a collection (created if needed); prints its id. `rag sources sync` runs its first sync,
    or the schedule does."""
    from ingest.synced_sources import add_source
    from rag.storage.registry import open_registry

    options: dict[str, Any] = {"include": include or [], "exclude": exclude or []}
    options |= {"delete_on_remove": False} if keep_deleted else {}
    named = {"branch": branch, "subfolder": subfolder, "max_items": max_items, "prefix": prefix,
             "endpoint_url": endpoint_url, "region": region, "profile": profile}  # fmt: skip
    options |= {k: v for k, v in named.items() if v}
    if kind == "folder" and "://" not in location:
        location = str(Path(location).expanduser().resolve())  # the server and workers read it from elsewhere
    interval = parse_duration(every) if every else None
    try:
        registry = open_registry(get_settings())
        record = add_source(_store(), collection, kind, location, options, interval)
        registry.ensure_collection(collection)
    except RagError as exc:
        raise fail(exc.message, 2) from exc
    if as_json:
        print(json.dumps(status(record), indent=2))
    else:
        print(record.id)


@sources_app.command("list")
def list_sources(collection: str, as_json: JsonOption = False) -> None:
    """The sources of a collection with their last sync."""
    columns = ("id", "kind", "location", "last sync", "status", *COUNT_NAMES, "next run")
    print_listing(_store().sources(collection), as_json, columns, _row, as_dict=status)


def _row(r: SourceRecord) -> tuple[str, ...]:
    next_run = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.next_run_at)) if r.next_run_at else ""
    counts = tuple(str(r.counts[name]) for name in COUNT_NAMES)
    return r.id, r.kind, r.location, r.last_sync_at or "never", r.last_status or "", *counts, next_run


@sources_app.command("show")
def show(collection: str, source_id: str, as_json: JsonOption = False) -> None:
    """One source: where it reads, its options, schedule and last sync."""
    record = _source(collection, source_id)
    if as_json:
        print(json.dumps(status(record), indent=2))
        return
    _print_status(status(record))


def _print_status(source: dict[str, Any]) -> None:
    console.print(f"[bold]{source['id']}[/bold] {source['kind']} {source['location']} -> {source['collection']}")
    if source["options"]:
        console.print(f"  options: {json.dumps(source['options'])}")
    every = f"every {source['every_s']:g} s" if source["every_s"] else "only when asked"
    console.print(f"  schedule: {every}")
    counts = ", ".join(f"{n} {source['counts'][n]}" for n in COUNT_NAMES)
    console.print(f"  last sync: {source['last_sync_at'] or 'never'} {source['last_status'] or ''} ({counts})")
    if source.get("synced_at"):
        console.print(f"  synced at: {source['synced_at']}")
    if source["last_error"]:
        console.print(f"  [red]error:[/red] {source['last_error']}")


@sources_app.command("sync")
def sync(collection: str, source_id: str, as_json: JsonOption = False) -> None:
    """Sync a source now and wait for it; prints the counts (exit 1 when the sync or an item failed)."""
    _source(collection, source_id)
    result = _sync_once(collection, source_id, as_json)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        _print_status(result)
    if result["last_status"] != "done" or result["counts"]["failed"]:
        raise typer.Exit(1)


def _sync_once(collection: str, source_id: str, quiet: bool) -> dict[str, Any]:
    from ingest.jobs.sync_jobs import run_sync

    remote = None
    try:
        remote = claim_data_dir("rag sources sync")
        with Progress(
            TextColumn("[bold]syncing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[last]}"), console=err_console, disable=quiet,
        ) as progress:  # fmt: skip
            task = progress.add_task("sync", total=None, last="")

            def advance(result: FileResult) -> None:
                progress.update(task, advance=1, last=f"{result.filename}: {result.status}")

            if remote is not None:
                return remote.sync_source(collection, source_id, advance)
            store = _store()
            run_sync(
                _source(collection, source_id), _pipeline(), store, advance,
                on_listed=lambda total: progress.update(task, total=total),
            )  # fmt: skip
            return status(_source(collection, source_id))
    except RagError as exc:
        if remote is None:  # the failure is on the source too: show it
            return status(_source(collection, source_id))
        raise fail(exc.message) from exc


_pipelines: list[Any] = []


def _pipeline() -> Any:
    """One local pipeline per process (`watch` syncs many times)."""
    from cli.common import local_pipeline

    if not _pipelines:
        _pipelines.append(local_pipeline())
    return _pipelines[0]


@sources_app.command("remove")
def remove(
    collection: str,
    source_id: str,
    keep_documents: Annotated[
        bool, typer.Option("--keep-documents", help="Leave the documents it synced in the collection")
    ] = False,
) -> None:
    """Remove a source and (unless --keep-documents) the documents it put in the collection."""
    from ingest.synced_sources import remove_source

    record = _source(collection, source_id)
    try:
        remote = claim_data_dir("rag sources remove")
        if remote is not None:
            remote.remove_source(collection, source_id, keep_documents)
            removed = "its"
        else:
            removed = str(remove_source(_store(), record, _pipeline(), keep_documents))
    except RagError as exc:
        raise fail(exc.message) from exc
    kept = "kept its documents" if keep_documents else f"removed {removed} document(s)"
    console.print(f"removed source {source_id} from {collection}; {kept}")


@sources_app.command("watch")
def watch(collection: str, source_id: str) -> None:
    """Keep a folder source in sync in the foreground: a sync now, then one after each burst of file changes
    (file-system events, through watchfiles). Ctrl-C stops."""
    import watchfiles

    record = _source(collection, source_id)
    if record.kind != "folder":
        raise fail(f"watch follows folders; source {source_id} is a {record.kind} source (sync it on a schedule)", 2)
    folder = Path(record.location)
    # The watcher runs beside the syncs, so a file saved while a sync runs (which may have listed the folder
    # before it) brings one more sync rather than waiting for the next change.
    changed, stop = threading.Event(), threading.Event()

    def follow() -> None:
        for _ in watchfiles.watch(folder, debounce=500, step=100, stop_event=stop):
            changed.set()

    threading.Thread(target=follow, name="source-watch", daemon=True).start()
    try:
        while True:
            changed.clear()
            result = _sync_once(collection, source_id, quiet=False)
            counts = ", ".join(f"{n} {result['counts'][n]}" for n in COUNT_NAMES)
            state = result["last_status"] if result["last_status"] == "done" else f"[red]{result['last_status']}[/red]"
            console.print(f"{time.strftime('%H:%M:%S')} sync {state}: {counts}" + (
                f" [red]{result['last_error']}[/red]" if result["last_error"] else ""
            ))  # fmt: skip
            console.print(f"[dim]watching {folder} for changes (Ctrl-C stops)[/dim]")
            while not changed.wait(0.5):
                pass
    except KeyboardInterrupt:
        return
    finally:
        stop.set()
