"""The FastAPI app factory: `create_app(settings)`; services are built once, at start-up."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import Depends, FastAPI

from api.deps import build_services, require_api_key
from api.errors import TraceMiddleware, install_error_handlers
from api.limits import BodyLimitMiddleware, limit_for
from api.routes import chat, collections, documents, health, query, search, summarize
from rag.backends import ChatBackend
from rag.config import Settings, get_settings


def create_app(settings: Settings | None = None, backend: ChatBackend | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = build_services(settings, backend)
        yield
        close = getattr(app.state.services.backend, "aclose", None)
        if close is not None:
            await close()

    app = FastAPI(
        title="rag-service",
        version="0.1.0",
        description="Question answering over your documents, with sources.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limit=partial(limit_for, settings))
    app.add_middleware(TraceMiddleware)  # outermost: the 413s of the body limit carry a trace id too
    app.include_router(health.router)
    protected = [Depends(require_api_key)]
    app.include_router(search.router, dependencies=protected)
    app.include_router(query.router, dependencies=protected)
    app.include_router(collections.router, dependencies=protected)
    app.include_router(documents.router, dependencies=protected)
    app.include_router(chat.router, dependencies=protected)
    app.include_router(summarize.router, dependencies=protected)
    return app


def app_from_env() -> FastAPI:
    """Entry point for uvicorn workers (`--factory`)."""
    import torch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    # One intra-op thread per request: on a few cores, torch's thread pools fight when requests overlap.
    torch.set_num_threads(settings.serve_torch_threads)
    return create_app(settings)
