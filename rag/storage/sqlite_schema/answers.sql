-- The answer log and its feedback, in answers.sqlite (rag/storage/answers/sqlite.py); PostgreSQL's:
-- migrations/0006_feedback.sql. Run at every open, so IF NOT EXISTS.
-- question, answer and sources are NULL when RAG_KEEP_QUESTIONS=false: the row then only lets feedback
-- name its answer's collection (scoped keys) and counts answered/abstained. The `scope` column (the
-- document filter an answer was given under) is added by the log's opener, which upgrades older files too.
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    question TEXT,
    answer TEXT,
    sources TEXT,  -- JSON list of {n, document_id, filename, page, chunk_id, cited}
    abstained INTEGER NOT NULL,
    abstain_reason TEXT,
    mode TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_collection ON answers (collection, created_at);
CREATE INDEX IF NOT EXISTS answers_by_time ON answers (created_at);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    rating TEXT NOT NULL,  -- up | down
    comment TEXT,
    source TEXT,  -- the source the answer should have cited, as the user named it
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_by_collection ON feedback (collection, updated_at);
