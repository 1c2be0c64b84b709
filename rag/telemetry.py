"""What the core records about its work: Prometheus counters and timers, OpenTelemetry spans, and per-request
notes (collection, tokens). rag/ only records; api/ serves the metrics, exports the spans and writes the
request log line. Without a tracer provider the spans are no-ops; the metrics cost a lock and an add.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from prometheus_client import Counter, Histogram

tracer = trace.get_tracer("rag")

STAGE_SECONDS = Histogram(
    "rag_stage_duration_seconds",
    "Time spent in each step of answering: retrieve, rerank, generate, check",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
TIME_TO_FIRST_TOKEN = Histogram(
    "rag_generation_time_to_first_token_seconds",
    "From sending a prompt to the chat backend to its first streamed text",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
TOKENS_PER_SECOND = Histogram(
    "rag_generation_tokens_per_second",
    "Completion tokens per second after the first token, per streamed generation",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
TOKENS = Counter("rag_tokens_total", "Tokens sent to (prompt) and produced by (completion) the chat backend", ["kind"])
ANSWERS = Counter("rag_answers_total", "Answers given, by how the text was made", ["mode"])
ABSTENTIONS = Counter("rag_abstentions_total", "Answers withheld, by reason", ["reason"])
INGESTED_FILES = Counter(
    "rag_ingest_documents_total", "Files through ingestion, by outcome (failed = ingestion failures)", ["status"]
)
INGESTED_CHUNKS = Counter("rag_ingest_chunks_total", "Chunks written by ingestion")

# Known label values start at 0, so rates and alerts work before the first event.
for _kind in ("prompt", "completion"):
    TOKENS.labels(_kind)
for _reason in ("no_relevant_sources", "no_answer_in_sources", "unsupported_answer"):
    ABSTENTIONS.labels(_reason)
for _status in ("ingested", "unchanged", "failed"):
    INGESTED_FILES.labels(_status)


@dataclass
class RequestNotes:
    """What one request touched, for its log line (never text or keys)."""

    collection: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


_notes: ContextVar[RequestNotes | None] = ContextVar("rag_request_notes", default=None)


def start_request_notes() -> RequestNotes:
    """Begin collecting notes for the work done in this context (one HTTP request)."""
    notes = RequestNotes()
    _notes.set(notes)
    return notes


def note_collection(name: str) -> None:
    notes = _notes.get()
    if notes is not None:
        notes.collection = name


def record_tokens(prompt_tokens: int, completion_tokens: int) -> None:
    TOKENS.labels("prompt").inc(prompt_tokens)
    TOKENS.labels("completion").inc(completion_tokens)
    notes = _notes.get()
    if notes is not None:
        notes.prompt_tokens += prompt_tokens
        notes.completion_tokens += completion_tokens


def record_answer(mode: str, abstain_reason: str | None) -> None:
    ANSWERS.labels(mode).inc()
    if abstain_reason:
        ABSTENTIONS.labels(abstain_reason).inc()


def record_ingested(status: str, chunks: int) -> None:
    INGESTED_FILES.labels(status).inc()
    if status == "ingested":
        INGESTED_CHUNKS.inc(chunks)


@contextmanager
def stage(name: str, **attributes: Any) -> Iterator[None]:
    """Time one step of the work and trace it as a span (a child of the current request's span)."""
    started = time.perf_counter()
    with tracer.start_as_current_span(name, attributes=attributes):
        try:
            yield
        finally:
            STAGE_SECONDS.labels(name).observe(time.perf_counter() - started)
