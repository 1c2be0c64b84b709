-- Ingestion jobs, in the registry's file (rag/storage/jobs/sqlite.py); PostgreSQL's: migrations/0004_jobs.sql.
-- Run at every open, so IF NOT EXISTS. Columns added since the first release (worker, heartbeat_at,
-- takeovers; ocr_pages_done, ocr_pages_total) are added by the job store's opener, which upgrades older files too.
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    status TEXT NOT NULL,
    files_total INTEGER NOT NULL,
    files_done INTEGER NOT NULL DEFAULT 0,
    chunks_done INTEGER NOT NULL DEFAULT 0,
    results TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
