-- Ingestion jobs (rag/storage/jobs/): claimed with FOR UPDATE SKIP LOCKED, held by a heartbeat.
CREATE TABLE jobs (
    id text PRIMARY KEY,
    collection text NOT NULL,
    status text NOT NULL,
    files_total integer NOT NULL,
    files_done integer NOT NULL DEFAULT 0,
    chunks_done integer NOT NULL DEFAULT 0,
    results text NOT NULL DEFAULT '[]',
    error text,
    created_at text NOT NULL,
    updated_at text NOT NULL,
    worker text,
    heartbeat_at double precision,  -- Unix time of the database's clock, so machines' clocks need not agree
    takeovers integer NOT NULL DEFAULT 0
);
CREATE INDEX jobs_active ON jobs (created_at, id) WHERE status IN ('queued', 'running');
