-- The keyword index's chunk rows (the live version of each document) and its change log (rag/storage/chunks/postgres.py).
CREATE TABLE chunks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the in-memory BM25 index's integer ids
    chunk_id text NOT NULL,
    collection text NOT NULL,
    document_id text NOT NULL,
    version text NOT NULL,
    text text NOT NULL,
    metadata jsonb NOT NULL
);
CREATE INDEX chunks_by_document ON chunks (collection, document_id);
CREATE UNIQUE INDEX chunks_by_id ON chunks (collection, chunk_id);

-- Each document's latest change; readers re-read the documents changed since the seq they last saw.
CREATE TABLE keyword_changes (
    collection text NOT NULL,
    document_id text NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (collection, document_id)
);
CREATE INDEX keyword_changes_by_seq ON keyword_changes (collection, seq);
CREATE SEQUENCE keyword_change_seq;
