"""Real engines together: PostgreSQL, a Chroma server, replicas and workers."""
