"""Wiring: the shared services, built once per process, and the request dependencies."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.middleware.auth import Authenticator
from api.permissions import authorize, caller_var, collection_not_found, require_visible
from ingest.jobs.runners import JobQueue
from ingest.ownership import claim, release
from ingest.pipeline import IngestPipeline
from ingest.service import build_pipeline
from ingest.synced_sources import SourceScheduler, SyncedSources
from ingest.uploads import Uploads
from ingest.watching import FolderWatcher
from rag.access import NOBODY, Principal, set_scope
from rag.answering.chat import ChatService
from rag.answering.feedback import AnswerKeeper
from rag.answering.service import AnswerService, build_answer_service
from rag.answering.summarize import Summarizer
from rag.answering.summary_sources import Library
from rag.backends import ChatBackend
from rag.backends.admission import GenerationQueue
from rag.config import Settings
from rag.errors import InvalidInput, NotFound
from rag.retrieval.components import Components, build_components
from rag.retrieval.embeddings import SentenceTransformerEmbedder
from rag.retrieval.hybrid import Retriever
from rag.storage.answers import open_answer_log
from rag.storage.registry.types import DocumentRecord, Registry, live_document
from rag.storage.sources import open_source_store
from rag.telemetry import note_collection

NO_INGEST_NEEDS_CHROMA_SERVER = (
    "serving without ingestion (--no-ingest, RAG_SERVE_INGEST=false) needs a Chroma server (RAG_CHROMA_URL):"
    " the vectors `rag worker` writes must be seen by the server"
)


@dataclass
class Services:
    settings: Settings
    components: Components
    pipeline: IngestPipeline
    registry: Registry  # the pipeline's: what the collections and documents are
    uploads: Uploads  # ingested now or as a job
    retriever: Retriever
    backend: ChatBackend
    answers: AnswerService
    chat: ChatService
    summarizer: Summarizer
    jobs: JobQueue
    generation: GenerationQueue  # the chat backend's bounded queue (answers, chat, completions, summaries)
    sources: SyncedSources  # synced sources, their syncs as jobs
    scheduler: SourceScheduler  # starts the syncs that are due
    watcher: FolderWatcher | None  # starts a folder source's sync when its files change
    keeper: AnswerKeeper  # the answer log: feedback and insights read it

    def close(self) -> None:
        """At shutdown: stop scheduling syncs, close the answer log, give up the data directory (see
        `build_services`)."""
        self.scheduler.stop()
        if self.watcher is not None:
            self.watcher.stop()
        self.keeper.close()
        if not self.settings.chroma_url:
            release(self.settings.data_dir)

    def require_collection(self, name: str) -> str:
        """`name`, when it exists and the caller's key may see it; the same 404 otherwise."""
        note_collection(name)  # for the request's log line
        require_visible(name)
        if not self.registry.exists(name):
            raise collection_not_found(name)
        return name

    def document(self, collection: str, document_id: str) -> DocumentRecord:
        """A live document of a collection the caller may see; 404 otherwise."""
        self.require_collection(collection)
        return live_document(self.registry, collection, document_id)

    def original(self, record: DocumentRecord) -> Path:
        """Where the document's file as uploaded is kept; 404 for documents ingested before originals were."""
        path = self.pipeline.originals.path(record.collection, record.sha256)
        if path is None:
            raise NotFound(
                f"the original of {record.document_id!r} was not kept (ingested before originals were): upload again"
            )
        return path

    def summary_library(self) -> Library:
        """Where summaries read stored text, with the caller's access checked on the collection."""
        return Library(self.registry, self.components.keyword, self.retriever.search, self.require_collection)


def build_services(settings: Settings, backend: ChatBackend | None = None) -> Services:
    """Everything a request needs. With embedded Chroma the server owns its data directory (ingest/ownership.py):
    it refuses to start while another process writes there, and CLI writers send their work here meanwhile.
    (`rag serve` claims it already, with its URL; this claim then only counts.)"""
    if not settings.chroma_url:
        if not settings.serve_ingest:
            raise InvalidInput(NO_INGEST_NEEDS_CHROMA_SERVER)
        claim(settings.data_dir, "rag serve")
    try:
        return _build_services(settings, backend)
    except BaseException:
        if not settings.chroma_url:
            release(settings.data_dir)
        raise


def _build_services(settings: Settings, backend: ChatBackend | None) -> Services:
    components = build_components(settings)
    # The ONNX query path is built now, not on the first request; a server exports it in a child process,
    # which keeps the export's ~130 MB of leftovers out of it (rag/retrieval/query_encoder.py).
    if isinstance(components.embedder, SentenceTransformerEmbedder):
        components.embedder.query_encoder(export_in_child=True)
    components.embedder.embed_query("warm-up")
    answers = build_answer_service(settings, components, backend)
    pipeline = build_pipeline(components)
    jobs = JobQueue.from_settings(pipeline, settings, run_jobs=settings.serve_ingest)
    jobs.resume()  # serving only: just the clean-up of leftover upload folders
    # Each collection's in-memory BM25 index loads in the background (seconds at 100k chunks), so the
    # first searches do not wait for it.
    sources = SyncedSources(open_source_store(settings), jobs.store, jobs.submit_sync)
    names = [c.name for c in pipeline.registry.collections()]
    threading.Thread(target=components.keyword.warm, args=(names,), daemon=True, name="bm25-warm").start()
    return Services(
        settings=settings,
        components=components,
        pipeline=pipeline,
        registry=pipeline.registry,
        uploads=Uploads(pipeline, jobs, settings),
        retriever=answers.retriever,
        backend=answers.backend,
        answers=answers,
        chat=ChatService(answers),
        summarizer=Summarizer(answers.backend),
        jobs=jobs,
        generation=GenerationQueue(
            settings.backend_name, settings.generation_slots, settings.generation_queue, settings.generation_max_wait_s
        ),
        sources=sources,
        scheduler=SourceScheduler(sources, settings.source_schedule_poll_s).start(),
        watcher=FolderWatcher(sources).start() if settings.source_watch else None,
        keeper=AnswerKeeper(open_answer_log(settings), settings.keep_questions, settings.question_retention_days),
    )


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


_bearer = HTTPBearer(auto_error=False)


async def require_api_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """Declares the bearer scheme in the OpenAPI, and checks the caller's role for this route (403).
    api.middleware.auth.ApiKeyMiddleware has already authenticated the caller before routing; should a route ever be
    served without it, this authenticates with the same Authenticator."""
    if caller_var.get() is NOBODY:
        authenticator: Authenticator = request.app.state.authenticator
        caller = authenticator.authenticate(request.headers.get("authorization"))
        caller_var.set(caller)
        set_scope(caller.documents)
    return authorize(request.method, request.scope["route"].path)


ServicesDep = Annotated[Services, Depends(get_services)]
