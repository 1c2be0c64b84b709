"""Measuring quality: retrieval evaluation and answer evaluation over question sets. May import anything in `rag`."""
