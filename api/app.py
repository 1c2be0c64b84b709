"""The FastAPI app factory: `create_app(settings)`; services are built once, at start-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from api.deps import build_services, require_api_key
from api.errors import TraceMiddleware, install_error_handlers
from api.middleware.auth import ApiKeyMiddleware, Authenticator, KeyChecker
from api.middleware.limits import BodyLimitMiddleware, limit_for
from api.middleware.metrics import metrics_router
from api.middleware.request_log import RequestLogMiddleware, configure_logging
from api.middleware.tracing import install_tracing, shutdown_tracing
from api.openapi import declare_auth, install_openapi
from api.permissions import document_roles
from api.routes import (
    bundles,
    chat,
    collections,
    completions,
    document_files,
    documents,
    embeddings,
    feedback,
    health,
    insights,
    query,
    search,
    sources,
    summarize,
)
from api.schemas.library import TextDocument
from api.schemas.openai import ChatRequest, document_dimensions
from api.web import install_web_page
from rag.backends import ChatBackend
from rag.config import Settings, get_settings
from rag.storage.keys import build_key_store


def create_app(settings: Settings | None = None, backend: ChatBackend | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = build_services(settings, backend)
        yield
        await asyncio.to_thread(app.state.services.jobs.stop, settings.shutdown_grace_s)
        close = getattr(app.state.services.backend, "aclose", None)
        if close is not None:
            await close()
        shutdown_tracing()
        app.state.services.close()
        key_store.close()

    # FastAPIOffline: /docs and /redoc with Swagger UI and ReDoc served from the installed package, not a CDN.
    app = FastAPIOffline(
        title="rag-service",
        version="0.1.0",
        description="Question answering over your documents, with sources.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    public_routes = {"/metrics"} if settings.public_metrics else set()

    def document_state() -> tuple[bool, int | None]:
        """What the document depends on at run time: whether keys exist, the embedder's dimension."""
        services = getattr(app.state, "services", None)  # built at start-up
        return app.state.authenticator.required(), services.components.embedder.dimension if services else None

    def edit_document(schema: dict[str, Any], state: tuple[bool, int | None]) -> None:
        keys_exist, dimension = state
        document_roles(schema, public_routes)
        declare_auth(schema, keys_exist)
        if dimension is not None:
            document_dimensions(schema, dimension)

    install_openapi(app, [ChatRequest, TextDocument], document_state, edit_document)
    key_store = build_key_store(settings)
    app.state.authenticator = Authenticator(KeyChecker(settings.api_key_set), key_store)
    # Innermost first: the body limit runs after the key check (an unauthenticated body is never read).
    app.add_middleware(BodyLimitMiddleware, limit=partial(limit_for, settings))
    # Inside TraceMiddleware: its 401s (and the body limit's 413s) carry a trace id.
    app.add_middleware(
        ApiKeyMiddleware,
        authenticator=app.state.authenticator,
        public_docs=settings.public_docs,
        public_metrics=settings.public_metrics,
    )
    app.add_middleware(RequestLogMiddleware)  # outside the key check (its 401s are logged), inside TraceMiddleware
    app.add_middleware(TraceMiddleware)
    install_tracing(app, settings)
    app.include_router(health.router)
    app.include_router(metrics_router(settings.public_metrics))
    protected = [Depends(require_api_key)]
    app.include_router(search.router, dependencies=protected)
    app.include_router(query.router, dependencies=protected)
    app.include_router(bundles.router, dependencies=protected)  # before collections' /v1/collections/{name}
    app.include_router(collections.router, dependencies=protected)
    app.include_router(document_files.router, dependencies=protected)  # before documents' {document_id:path}
    app.include_router(documents.router, dependencies=protected)
    app.include_router(sources.router, dependencies=protected)
    app.include_router(chat.router, dependencies=protected)
    app.include_router(completions.router, dependencies=protected)
    app.include_router(embeddings.router, dependencies=protected)
    app.include_router(summarize.router, dependencies=protected)
    app.include_router(feedback.router, dependencies=protected)
    app.include_router(insights.router, dependencies=protected)
    install_web_page(app)
    return app


def app_from_env() -> FastAPI:
    """Entry point for uvicorn workers (`--factory`)."""
    import torch

    settings = get_settings()
    configure_logging(settings.log_format)
    # One intra-op thread per request: on a few cores, torch's thread pools fight when requests overlap.
    torch.set_num_threads(settings.serve_torch_threads)
    return create_app(settings)
