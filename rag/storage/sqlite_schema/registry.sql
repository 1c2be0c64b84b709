-- The document registry in the data dir (rag/storage/registry/sqlite.py); PostgreSQL's: migrations/0002_registry.sql.
-- Run at every open, so every statement is IF NOT EXISTS. Columns added since the first release
-- (`writer`) are added by the registry's opener, which upgrades older files too.
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    document_id TEXT NOT NULL,
    filename TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    version TEXT,
    pending_version TEXT,
    status TEXT NOT NULL,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    pages INTEGER,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (collection, document_id)
);
