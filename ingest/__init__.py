"""Ingestion: loaders (one per file type), chunking, the pipeline, uploads (ingested now or as a job), jobs and
workers."""
