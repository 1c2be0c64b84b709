-- Synced sources and what each last held, in the registry's file (rag/storage/sources/sqlite.py);
-- PostgreSQL's: migrations/0005_sources.sql. Run at every open, so IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS sources (
    id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    kind TEXT NOT NULL,
    location TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    interval_s REAL,
    next_run_at REAL,
    cursor TEXT,
    job_id TEXT,
    last_sync_at TEXT,
    last_status TEXT,
    last_error TEXT,
    added INTEGER NOT NULL DEFAULT 0,
    changed INTEGER NOT NULL DEFAULT 0,
    removed INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sources_collection ON sources (collection);
CREATE TABLE IF NOT EXISTS source_items (
    source_id TEXT NOT NULL,
    item_key TEXT NOT NULL,
    marker TEXT,
    document_id TEXT NOT NULL,
    PRIMARY KEY (source_id, item_key)
);
