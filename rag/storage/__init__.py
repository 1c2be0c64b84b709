"""Where state lives: the engine (SQLite or PostgreSQL), Chroma vectors, chunk rows, registry, jobs, keys, leases,
originals and migrations. Imports only `rag.text` and the root modules."""
