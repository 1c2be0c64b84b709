"""Wiring: the ingestion pipeline over the shared components; used by the CLI and the API alike."""

from __future__ import annotations

from ingest.pipeline import IngestPipeline
from rag.retrieval.components import Components
from rag.storage.registry import open_registry


def build_pipeline(components: Components) -> IngestPipeline:
    """Build the pipeline and repair anything a previous crash left half-written."""
    registry = open_registry(components.settings)
    pipeline = IngestPipeline(components.settings, components.embedder, components.store, components.keyword, registry)
    pipeline.recover()
    return pipeline
