-- The document registry (rag/storage/registry/postgres.py).
CREATE TABLE collections (
    name text PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    created_at text NOT NULL
);
CREATE TABLE documents (
    collection text NOT NULL,
    document_id text NOT NULL,
    filename text NOT NULL,
    size bigint NOT NULL,
    sha256 text NOT NULL,
    version text,
    pending_version text,
    status text NOT NULL,
    chunk_count integer NOT NULL DEFAULT 0,
    pages integer,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at text NOT NULL,
    updated_at text NOT NULL,
    writer text,  -- lease of the process writing pending_version
    PRIMARY KEY (collection, document_id)
);
CREATE INDEX documents_pending ON documents (status) WHERE status = 'ingesting';

-- Writer leases: lease n is live while some session holds the advisory lock (3, n) (rag/storage/engine.py).
CREATE SEQUENCE writer_lease_seq AS integer CYCLE;
