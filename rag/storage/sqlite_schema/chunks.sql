-- The keyword index's chunk rows and change log in the data dir (rag/storage/chunks/sqlite.py);
-- PostgreSQL's: migrations/0001_keyword_index.sql. Run at every open, so every statement is IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL,
    collection TEXT NOT NULL,
    document_id TEXT NOT NULL,
    version TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks (collection, document_id);
CREATE UNIQUE INDEX IF NOT EXISTS chunks_by_id ON chunks (collection, chunk_id);
CREATE TABLE IF NOT EXISTS changes (
    collection TEXT NOT NULL,
    document_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (collection, document_id)
);
CREATE INDEX IF NOT EXISTS changes_by_seq ON changes (collection, seq);
