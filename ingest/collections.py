"""Deleting a collection with everything that hangs on it, the same from the API and the CLI."""

from __future__ import annotations

from typing import Protocol

from ingest.pipeline import IngestPipeline
from ingest.synced_sources import forget_sources
from rag.storage.jobs import JobStore
from rag.storage.sources import SourceStore

COLLECTION_DELETED = "its collection was deleted"


class AnswerHistory(Protocol):
    """The answer log (rag.storage.answers) or the server's keeper of it (rag.answering.feedback)."""

    def forget_collection(self, collection: str) -> int: ...


def delete_collection(
    name: str, pipeline: IngestPipeline, sources: SourceStore, answers: AnswerHistory, jobs: JobStore
) -> None:
    """Its jobs and sources first (neither a job in flight nor a scheduled sync may bring the collection back:
    a runner stops at its next heartbeat, and a write already under way finishes before the delete starts,
    see ingest/storing.py), then its documents, chunks, vectors and originals, then its answers and their
    feedback (a new collection of the same name starts with no history of the old one's)."""
    jobs.cancel_collection(name, COLLECTION_DELETED)
    forget_sources(sources, pipeline.settings, name)
    pipeline.delete_collection(name)
    answers.forget_collection(name)
