-- Scoped API keys in keys.sqlite (rag/storage/keys/sqlite.py); PostgreSQL's: migrations/0003_api_keys.sql.
-- Run at every open, so IF NOT EXISTS. collections: a JSON list of names, NULL for every collection. The
-- document filter (`documents`) is added by the key store's opener, which upgrades older files too.
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    collections TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_live_names ON api_keys (name) WHERE revoked_at IS NULL;
