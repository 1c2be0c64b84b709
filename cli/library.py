"""`rag ingest`, `rag docs ...` and `rag collections ...`: what the library holds."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.common import (
    CollectionOption,
    JsonOption,
    claim_data_dir,
    collection_or_default,
    console,
    err_console,
    fail,
    local_pipeline,
    print_listing,
    read_registry,
)
from rag.config import get_settings
from rag.errors import RagError

if TYPE_CHECKING:
    from ingest.pipeline import FileResult, Source
    from rag.storage.registry.types import CollectionRecord, DocumentRecord

docs_app = typer.Typer(help="Documents of a collection.", no_args_is_help=True)
collections_app = typer.Typer(help="Collections.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(ingest)
    app.add_typer(docs_app, name="docs")
    app.add_typer(collections_app, name="collections")


def collect_sources(paths: list[Path], recursive: bool) -> list[Source]:
    """The sources of `rag ingest PATHS` (see find_sources), without the report of what was skipped."""
    return find_sources(paths, recursive)[0]


def find_sources(
    paths: list[Path], recursive: bool, follow_symlinks: bool = False
) -> tuple[list[Source], list[FileResult]]:
    """Files named explicitly are always tried; inside folders only supported types are taken (the others
    come back as `skipped` results, so the user hears about them).

    Inside a folder the document id is the path relative to it, so equal names in subfolders stay apart.
    A `.ragignore` file in a folder lists glob patterns (relative paths) to leave out. Symlinks leaving
    a folder are not followed unless `follow_symlinks`: they come back as `skipped` results.
    """
    from ingest.folders import folder_files
    from ingest.pipeline import FileResult, Source

    sources: list[Source] = []
    skipped: list[FileResult] = []
    for path in paths:
        if path.is_dir():
            found = folder_files(path, recursive, follow_symlinks)
            sources += [Source.from_path(file, document_id=relative) for file, relative in found.files]
            skipped += [FileResult(name, name, "skipped", reason=why) for name, why in found.skipped]
        elif path.is_file():
            sources.append(Source.from_path(path))
        else:
            raise fail(f"no such file or directory: {path}", 2)
    return sources, skipped


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    collection: CollectionOption = None,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-folders.")] = False,
    follow_symlinks: Annotated[
        bool, typer.Option("--follow-symlinks", help="Also ingest what symlinks pointing out of a folder point to.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Ingest files into a collection; unchanged files are skipped, changed ones replaced."""
    collection = collection_or_default(collection)
    sources, skipped = find_sources(paths, recursive, follow_symlinks)
    if not sources:
        _print_skipped(skipped, err_console)
        raise fail("no supported files found", 2)
    try:
        remote = claim_data_dir("rag ingest")
        with Progress(
            TextColumn("[bold]ingesting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[last]}"), console=err_console, disable=as_json,
        ) as progress:  # fmt: skip
            task = progress.add_task("ingest", total=len(sources), last="")

            def advance(result: FileResult) -> None:
                progress.update(task, advance=1, last=f"{result.filename}: {result.status}")

            writer = remote or local_pipeline()
            results = writer.ingest(sources, collection, progress=advance)
    except RagError as exc:
        raise fail(exc.message) from exc
    if as_json:
        print(json.dumps([asdict(r) for r in [*results, *skipped]], indent=2))
    else:
        _print_summary([*results, *skipped])
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def _print_summary(results: list[FileResult]) -> None:
    counts = {s: sum(r.status == s for r in results) for s in ("ingested", "unchanged", "failed", "skipped")}
    chunks = sum(r.chunks for r in results if r.status == "ingested")
    console.print(
        f"[green]{counts['ingested']} ingested[/green] ({chunks} chunks), "
        f"{counts['unchanged']} unchanged, [red]{counts['failed']} failed[/red]"
        + (f", [yellow]{counts['skipped']} skipped[/yellow]" if counts["skipped"] else "")
    )
    for r in results:
        if r.status == "failed":
            console.print(f"  [red]✗[/red] {r.filename}: {r.reason}")
    _print_skipped([r for r in results if r.status == "skipped"])


def _print_skipped(skipped: list[FileResult], out: Console = console) -> None:
    for r in skipped:
        hint = " (--follow-symlinks to ingest it)" if "symlink" in (r.reason or "") else ""
        out.print(f"  [yellow]-[/yellow] {r.filename}: skipped, {r.reason}{hint}")


@docs_app.command("list")
def docs_list(collection: CollectionOption = None, as_json: JsonOption = False) -> None:
    """List the documents of a collection."""
    collection = collection_or_default(collection)
    registry = read_registry()
    if not registry.exists(collection):
        raise fail(f"collection {collection!r} not found")
    columns = ("document_id", "filename", "pages", "chunks", "size", "updated_at")
    print_listing(registry.documents(collection), as_json, columns, _document_row, as_dict=lambda r: r.public())


def _document_row(r: DocumentRecord) -> tuple[str, ...]:
    return r.document_id, r.filename, str(r.pages or ""), str(r.chunk_count), f"{r.size:,}", r.updated_at


@docs_app.command("delete")
def docs_delete(document_id: str, collection: CollectionOption = None) -> None:
    """Delete a document: its chunks, keyword entries and registry row."""
    collection = collection_or_default(collection)
    try:
        (claim_data_dir("rag docs delete") or local_pipeline()).delete_document(collection, document_id)
    except RagError as exc:
        raise fail(exc.message) from exc
    console.print(f"deleted {document_id} from {collection}")


@collections_app.command("list")
def collections_list(as_json: JsonOption = False) -> None:
    """List collections with their document and chunk counts."""
    columns = ("name", "documents", "chunks", "created_at")
    print_listing(read_registry().collections(), as_json, columns, _collection_row)


def _collection_row(r: CollectionRecord) -> tuple[str, ...]:
    return r.name, str(r.documents), str(r.chunks), r.created_at


@collections_app.command("delete")
def collections_delete(
    name: str, yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False
) -> None:
    """Delete a collection with all its documents (asks first on a terminal)."""
    record = read_registry().collection(name)
    if record is None:
        raise fail(f"collection {name!r} not found")
    if not yes and sys.stdin.isatty():
        question = f"Delete collection {name!r} with its {record.documents} document(s)?"
        if not typer.confirm(question, default=False, err=True):
            raise fail("not deleted", 1)
    try:
        server = claim_data_dir("rag collections delete")
        if server is not None:  # the server deletes what hangs on the collection too
            server.delete_collection(name)
        else:
            delete_local_collection(name)
    except RagError as exc:
        raise fail(exc.message) from exc
    console.print(f"deleted collection {name}")


def delete_local_collection(name: str) -> None:
    from ingest.collections import delete_collection
    from rag.storage.answers import open_answer_log
    from rag.storage.jobs import open_job_store
    from rag.storage.sources import open_source_store

    settings = get_settings()
    jobs = open_job_store(settings)
    delete_collection(name, local_pipeline(), open_source_store(settings), open_answer_log(settings), jobs)
