"""Background ingestion: the runners of upload jobs (in `rag serve` or `rag worker` processes) and the worker loop."""
