"""Collections: create, list, inspect, delete."""

from __future__ import annotations

import asyncio
from dataclasses import asdict

from fastapi import APIRouter, Response

from api.deps import ServicesDep
from api.openapi import links
from api.permissions import collection_not_found, current_caller, require_creatable
from api.schemas.common import ERROR_RESPONSES, error_responses
from api.schemas.library import CollectionCreate, CollectionList, CollectionOut
from ingest import collections
from rag.errors import Conflict
from rag.validation import check_collection_name

router = APIRouter(tags=["collections"])


CREATED_LINKS = links(
    ("get", "/v1/collections/{name}", {"name": "$response.body#/name"}),
    ("post", "/v1/collections/{name}/documents", {"name": "$response.body#/name"}),
    ("get", "/v1/collections/{name}/documents", {"name": "$response.body#/name"}),
    ("delete", "/v1/collections/{name}", {"name": "$response.body#/name"}),
)


@router.post(
    "/v1/collections",
    status_code=201,
    response_model=CollectionOut,
    responses={**error_responses(409), 201: CREATED_LINKS},
)
async def create_collection(body: CollectionCreate, services: ServicesDep) -> CollectionOut:
    require_creatable(body.name)
    if not services.registry.ensure_collection(check_collection_name(body.name), body.description):
        raise Conflict(f"collection {body.name!r} already exists")
    return await get_collection(body.name, services)


@router.get("/v1/collections", response_model=CollectionList, responses=ERROR_RESPONSES)
async def list_collections(services: ServicesDep) -> CollectionList:
    """The collections the caller's key may see."""
    caller = current_caller()
    records = [r for r in services.registry.collections() if caller.sees(r.name)]
    return CollectionList(collections=[CollectionOut(**asdict(r)) for r in records])


@router.get("/v1/collections/{name}", response_model=CollectionOut, responses=ERROR_RESPONSES)
async def get_collection(name: str, services: ServicesDep) -> CollectionOut:
    record = services.registry.collection(services.require_collection(name))
    if record is None:  # deleted meanwhile
        raise collection_not_found(name)
    return CollectionOut(**asdict(record))


@router.delete("/v1/collections/{name}", status_code=204, responses=ERROR_RESPONSES)
async def delete_collection(name: str, services: ServicesDep) -> Response:
    services.require_collection(name)
    sources, answers = services.sources.store, services.keeper
    await asyncio.to_thread(
        collections.delete_collection, name, services.pipeline, sources, answers, services.jobs.store
    )
    return Response(status_code=204)
