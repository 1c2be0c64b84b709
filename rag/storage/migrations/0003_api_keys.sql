-- Scoped API keys (rag/storage/keys/): SHA-256 digests only; a revoked key keeps its row, marked revoked.
CREATE TABLE api_keys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    digest text NOT NULL UNIQUE,
    role text NOT NULL,
    collections text,  -- a JSON list of names, NULL for every collection
    created_at text NOT NULL,
    revoked_at text
);
CREATE UNIQUE INDEX api_keys_live_names ON api_keys (name) WHERE revoked_at IS NULL;
