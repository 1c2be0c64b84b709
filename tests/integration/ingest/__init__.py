"""Ingestion on real Chroma and SQLite: the pipeline, jobs and workers, a data directory shared by processes."""
