"""Synced sources of a collection: add, list, inspect, remove, sync now. Writers manage them, readers see them."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from api.deps import Services, ServicesDep
from api.openapi import links
from api.schemas.common import ERROR_RESPONSES, error_responses
from api.schemas.sources import SourceCounts, SourceCreate, SourceList, SourceOut, SyncAccepted
from rag.access import current_scope
from rag.errors import NotFound
from rag.storage.sources import SourceRecord

router = APIRouter(tags=["sources"])
_SOURCE = {"name": "$request.path.name", "source_id": "$response.body#/id"}
CREATED_LINKS = links(
    ("get", "/v1/collections/{name}/sources/{source_id}", _SOURCE),
    ("post", "/v1/collections/{name}/sources/{source_id}/sync", _SOURCE),
)
SYNC_LINKS = links(("get", "/v1/jobs/{job_id}", {"job_id": "$response.body#/job_id"}))


def source_out(services: Services, record: SourceRecord) -> SourceOut:
    job = services.sources.job(record)
    return SourceOut(
        id=record.id, collection=record.collection, kind=record.kind, location=record.location,
        options=record.options, every_s=record.interval_s, next_run_at=record.next_run_at,
        last_sync_at=record.last_sync_at, last_status=record.last_status, last_error=record.last_error,
        counts=SourceCounts(**record.counts), synced_at=record.cursor, job_id=record.job_id,
        job_status=job.status if job else None, created_at=record.created_at,
    )  # fmt: skip


@router.post(
    "/v1/collections/{name}/sources",
    status_code=201,
    response_model=SourceOut,
    responses={**error_responses(403), 201: CREATED_LINKS},
    description="Add a source the collection stays in sync with; its first sync starts at once. A `folder` (or a"
    " local `git` repository) must lie under RAG_SOURCE_ROOTS; a `web` site or an `s3` endpoint must be on a host"
    " of RAG_SOURCE_HOSTS. A `web` location is an http(s) URL, an `s3` one s3://bucket[/prefix] (else 400).",
)
async def add_source(name: str, body: SourceCreate, services: ServicesDep) -> SourceOut:
    services.require_collection(name)
    options = body.options.model_dump(exclude_none=True, exclude_defaults=True)
    record = services.sources.add(
        name, body.kind, body.location, options, body.every_s, services.settings.source_root_paths,
        services.settings.source_host_patterns,
    )  # fmt: skip
    services.sources.sync(name, record.id)
    return source_out(services, services.sources.get(name, record.id))


@router.get("/v1/collections/{name}/sources", response_model=SourceList, responses=ERROR_RESPONSES)
async def list_sources(name: str, services: ServicesDep) -> SourceList:
    services.require_collection(name)
    return SourceList(sources=[source_out(services, r) for r in services.sources.sources(name) if _seen(r)])


@router.get("/v1/collections/{name}/sources/{source_id}", response_model=SourceOut, responses=ERROR_RESPONSES)
async def get_source(name: str, source_id: str, services: ServicesDep) -> SourceOut:
    services.require_collection(name)
    record = services.sources.get(name, source_id)
    if not _seen(record):
        raise NotFound(f"source {source_id!r} not found in collection {name!r}")
    return source_out(services, record)


def _seen(record: SourceRecord) -> bool:
    """A key with a document filter sees the sources whose documents its filter admits by `source_id` alone
    (`--where source_id=...`): the others' locations and counts would tell of documents it does not see."""
    scope = current_scope()
    return scope is None or scope.admits({"source_id": record.id})


@router.delete("/v1/collections/{name}/sources/{source_id}", status_code=204, responses=ERROR_RESPONSES)
async def remove_source(
    name: str,
    source_id: str,
    services: ServicesDep,
    keep_documents: Annotated[bool, Query(description="Leave the documents it synced in the collection")] = False,
) -> Response:
    services.require_collection(name)
    await asyncio.to_thread(services.sources.remove, name, source_id, services.pipeline, keep_documents)
    return Response(status_code=204)


@router.post(
    "/v1/collections/{name}/sources/{source_id}/sync",
    status_code=202,
    response_model=SyncAccepted,
    responses={**ERROR_RESPONSES, 202: SYNC_LINKS},
    description="Start a sync now (a job: follow it at /v1/jobs/{job_id}); a sync already queued or running is"
    " answered instead of a second one.",
)
async def sync_source(name: str, source_id: str, services: ServicesDep) -> JSONResponse:
    services.require_collection(name)
    job = services.sources.sync(name, source_id)
    body = SyncAccepted(job_id=job.id, status=job.status)
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})
