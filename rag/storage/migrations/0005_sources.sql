-- Synced sources (rag/storage/sources/): where a collection's documents come from, each one's schedule and
-- last outcome, and per item the version marker last synced and the document it became.
CREATE TABLE sources (
    id text PRIMARY KEY,
    collection text NOT NULL,
    kind text NOT NULL,
    location text NOT NULL,
    options text NOT NULL DEFAULT '{}',
    interval_s double precision,
    next_run_at double precision,  -- Unix time the next scheduled sync is due
    cursor text,                   -- where the last full sync left the source (a git commit)
    job_id text,                   -- the latest sync job
    last_sync_at text,
    last_status text,
    last_error text,
    added integer NOT NULL DEFAULT 0,
    changed integer NOT NULL DEFAULT 0,
    removed integer NOT NULL DEFAULT 0,
    unchanged integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,
    created_at text NOT NULL
);
CREATE INDEX sources_collection ON sources (collection);
CREATE TABLE source_items (
    source_id text NOT NULL,
    item_key text NOT NULL,
    marker text,                   -- NULL: being synced (written before the document, so a crash leaves no orphan)
    document_id text NOT NULL,
    PRIMARY KEY (source_id, item_key)
);
