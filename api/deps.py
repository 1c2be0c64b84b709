"""Wiring: the shared services, built once per process, and the request dependencies."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import KeyChecker
from ingest.jobs import JobQueue
from ingest.pipeline import IngestPipeline
from ingest.service import build_pipeline
from rag.admission import GenerationQueue
from rag.answer import AnswerService, build_answer_service
from rag.backends import ChatBackend
from rag.chat import ChatService
from rag.components import Components, build_components
from rag.config import Settings
from rag.errors import NotFound
from rag.retrieval import Retriever
from rag.summarize import Summarizer
from rag.telemetry import note_collection


@dataclass
class Services:
    settings: Settings
    components: Components
    pipeline: IngestPipeline
    retriever: Retriever
    backend: ChatBackend
    answers: AnswerService
    chat: ChatService
    summarizer: Summarizer
    jobs: JobQueue
    generation: GenerationQueue  # the chat backend's bounded queue (answers, chat, completions, summaries)

    def require_collection(self, name: str) -> str:
        note_collection(name)  # for the request's log line
        if not self.pipeline.registry.exists(name):
            raise NotFound(f"collection {name!r} not found")
        return name


def build_services(settings: Settings, backend: ChatBackend | None = None) -> Services:
    components = build_components(settings)
    components.embedder.embed_query("warm-up")  # builds the ONNX query path now, not on the first request
    answers = build_answer_service(settings, components, backend)
    pipeline = build_pipeline(components)
    jobs = JobQueue(pipeline, settings.registry_db, settings.data_dir / "uploads")
    jobs.resume()
    # Each collection's in-memory BM25 index loads in the background (seconds at 100k chunks), so the
    # first searches do not wait for it.
    names = [c.name for c in pipeline.registry.collections()]
    threading.Thread(target=components.keyword.warm, args=(names,), daemon=True, name="bm25-warm").start()
    return Services(
        settings=settings,
        components=components,
        pipeline=pipeline,
        retriever=answers.retriever,
        backend=answers.backend,
        answers=answers,
        chat=ChatService(answers),
        summarizer=Summarizer(answers.backend),
        jobs=jobs,
        generation=GenerationQueue(
            settings.backend_name, settings.generation_slots, settings.generation_queue, settings.generation_max_wait_s
        ),
    )


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


_bearer = HTTPBearer(auto_error=False)


def require_api_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Declares the bearer scheme in the OpenAPI. api.auth.ApiKeyMiddleware has already checked the key
    before routing; this checks again with the same KeyChecker, should a route ever be served without it."""
    checker: KeyChecker = request.app.state.key_checker
    if checker:
        checker.check(request.headers.get("authorization"))


ServicesDep = Annotated[Services, Depends(get_services)]
