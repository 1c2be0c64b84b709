"""Ingestion: loaders (one per file type), chunking, the document registry and the pipeline."""
