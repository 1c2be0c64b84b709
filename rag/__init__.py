"""Core of the RAG service: settings, stores, retrieval, prompts and chat backends (no HTTP)."""
