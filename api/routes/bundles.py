"""Portable bundles over HTTP, for admins: GET /v1/collections/{name}/export (a streamed download) and
POST /v1/imports (a streamed upload), the same archives as `rag export` and `rag import`. (Not
/v1/collections/import: that path is the collection named "import".)"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from api.deps import Services, ServicesDep
from api.schemas.common import error_responses
from api.schemas.grammar import CollectionName
from ingest.bundles.export import stage_bundle, write_bundle
from ingest.bundles.load import Imported, load_bundle, receive_bundle

router = APIRouter(tags=["bundles"])
TAR = "application/x-tar"
BINARY = "application/octet-stream"


class ImportedOut(BaseModel):
    collection: str
    documents: int
    chunks: int
    originals: int
    sources: int


@router.get(
    "/v1/collections/{name}/export",
    response_class=FileResponse,
    responses={**error_responses(422), 200: {"content": {TAR: {}}, "description": "The collection's bundle"}},
)
async def export_collection(name: str, services: ServicesDep) -> FileResponse:
    """The collection as one tar archive (see `rag export`): written to a staging folder, then streamed, so
    memory stays bounded; the folder goes once the download ends."""
    services.require_collection(name)
    folder = Path(tempfile.mkdtemp(prefix="rag-export-", dir=_staging(services)))
    try:
        await asyncio.to_thread(_write, services, name, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    cleanup = BackgroundTask(shutil.rmtree, folder, ignore_errors=True)
    return FileResponse(folder / "bundle.tar", media_type=TAR, filename=f"{name}.tar", background=cleanup)


def _write(services: Services, name: str, folder: Path) -> None:
    staged = stage_bundle(services.pipeline, services.sources.store, name, folder / "members")
    with (folder / "bundle.tar").open("wb") as out:
        write_bundle(staged, out)
    shutil.rmtree(folder / "members", ignore_errors=True)


def _staging(services: Services) -> Path:
    path = services.settings.staging_path
    path.mkdir(parents=True, exist_ok=True)
    return path


@router.post(
    "/v1/imports",
    status_code=201,
    response_model=ImportedOut,
    responses=error_responses(403, 409, 413),
    # The body is read as bytes whatever its type; declared as octet-stream, which every client (and fuzzer) sends.
    openapi_extra={
        "requestBody": {"required": True, "content": {BINARY: {"schema": {"type": "string", "format": "binary"}}}}
    },  # fmt: skip
)
async def import_collection(
    request: Request,
    services: ServicesDep,
    as_name: Annotated[
        CollectionName | None, Query(alias="as", description="Load it under this name (default: its own)")
    ] = None,
    replace: Annotated[bool, Query(description="Replace a collection of that name")] = False,
) -> ImportedOut:
    """Load a bundle `rag export` (or the export route) wrote, without re-embedding: the body is streamed to
    disk (RAG_MAX_UPLOAD_BYTES), checked whole (embedder, member names, checksums) and only then loaded; a
    load that fails removes what it wrote. 409 when the name exists and `replace` is false. Its synced sources
    come too, each checked as adding it here would be: a folder or local git repository outside
    RAG_SOURCE_ROOTS, or a remote one on a host not in RAG_SOURCE_HOSTS, refuses the whole import (403)."""
    folder = Path(tempfile.mkdtemp(prefix="rag-import-", dir=_staging(services)))
    try:
        archive = folder / "bundle.tar"
        with archive.open("wb") as out:
            async for block in request.stream():
                out.write(block)
        done = await asyncio.to_thread(_load, services, archive, folder / "members", as_name, replace)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return ImportedOut(**done.__dict__)


def _load(services: Services, archive: Path, folder: Path, name: str | None, replace: bool) -> Imported:
    from api.permissions import require_creatable

    folder.mkdir()
    with archive.open("rb") as source:
        target, manifest = receive_bundle(services.pipeline, source, folder, name, replace)
    require_creatable(target)
    settings = services.settings
    return load_bundle(services.pipeline, folder, target, manifest, services.sources.store,
                       settings.source_root_paths, settings.source_host_patterns)  # fmt: skip
