"""Measuring quality: retrieval evaluation and answer evaluation over question sets, and the runs `rag eval` starts
(its caller passes the ingestion in). May import anything in `rag`."""
