"""GET /health: no auth; reports store, embedder and chat backend status."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServicesDep
from api.schemas.common import HealthResponse

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "A component is down (status: degraded)"}},
)
async def health(services: ServicesDep) -> JSONResponse:
    store = await asyncio.to_thread(services.components.store.heartbeat)
    embedder = services.components.embedder.dimension > 0
    backend = await services.backend.health()
    ok = store and embedder and backend
    body = HealthResponse(
        status="ok" if ok else "degraded", store=store, embedder=embedder, backend=backend,
        backend_name=services.settings.backend_name, model=services.backend.model,
        generation=services.generation.stats(),
    )  # fmt: skip
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
