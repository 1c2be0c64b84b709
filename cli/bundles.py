"""`rag export COLLECTION FILE` and `rag import FILE`: a collection as one portable archive, loaded again
without re-embedding (ingest/bundles/)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from cli.common import JsonOption, claim_data_dir, console, fail, local_pipeline
from rag.config import get_settings
from rag.errors import RagError


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("import")(import_)


def _own(command: str) -> None:
    remote = claim_data_dir(command)
    if remote is not None:
        raise fail(f"the server at {remote.url} owns {get_settings().data_dir}: stop it first", 2)


def export(
    collection: Annotated[str, typer.Argument(help="The collection to export.")],
    file: Annotated[Path, typer.Argument(help="The archive to write (a tar file), or - for standard output.")],
    as_json: JsonOption = False,
) -> None:
    """Write a collection as one archive: its chunks with their vectors, keyword rows, registry rows,
    originals, synced sources with their sync state (no credentials), and a manifest with the embedder,
    counts and checksums."""
    import sys

    from ingest.bundles.export import stage_bundle, write_bundle
    from rag.storage.sources import open_source_store

    _own("rag export")
    try:
        with tempfile.TemporaryDirectory(prefix="rag-export-") as folder:
            staged = stage_bundle(local_pipeline(), open_source_store(get_settings()), collection, Path(folder))
            if str(file) == "-":
                write_bundle(staged, sys.stdout.buffer)
            else:
                partial = file.with_name(file.name + ".partial")  # renamed when whole: no half archive left
                with partial.open("wb") as out:
                    write_bundle(staged, out)
                partial.replace(file)
    except RagError as exc:
        raise fail(exc.message) from exc
    counts = staged.manifest["counts"]
    if as_json:
        print(json.dumps({"collection": collection, "file": str(file), **counts}))
    elif str(file) != "-":
        console.print(f"{collection}: {counts['documents']} documents, {counts['chunks']} chunks,"
                      f" {counts['originals']} originals and {counts['sources']} sources written to {file}",
                      highlight=False)  # fmt: skip


def import_(
    file: Annotated[Path, typer.Argument(help="An archive `rag export` wrote.")],
    as_name: Annotated[str | None, typer.Option("--as", help="Load it under this name (default: its own).")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace a collection of that name.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Check an archive whole (embedder, names, checksums, sources) and load it without re-embedding; its
    synced sources come with it, so their next sync reads only what changed since the export."""
    import signal

    from ingest.bundles.load import load_bundle, receive_bundle
    from rag.storage.sources import open_source_store

    signal.signal(signal.SIGTERM, _stop)  # a SIGTERM unwinds like Ctrl-C: the half-loaded collection is removed

    if not file.is_file():
        raise fail(f"no such file: {file}", 2)
    _own("rag import")
    try:
        pipeline = local_pipeline()
        with tempfile.TemporaryDirectory(prefix="rag-import-") as folder, file.open("rb") as source:
            target, manifest = receive_bundle(pipeline, source, Path(folder), as_name, replace)
            done = load_bundle(pipeline, Path(folder), target, manifest, open_source_store(get_settings()))
    except RagError as exc:
        raise fail(exc.message) from exc
    if as_json:
        print(json.dumps(done.__dict__))
        return
    console.print(f"{done.collection}: {done.documents} documents, {done.chunks} chunks, {done.originals}"
                  f" originals and {done.sources} sources imported", highlight=False)  # fmt: skip
