"""Core of the RAG service (no HTTP, no CLI). Layers, each importing only those below it: evaluation → answering →
retrieval, backends → storage → text → the root modules (config, errors, types, validation, access, telemetry)."""
