"""The HTTP API on real servers: the contract, keys, limits, request shapes, documents, streams, the schema."""
