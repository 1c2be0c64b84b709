-- The answer log and its feedback (rag/storage/answers/). question, answer and sources are NULL when
-- RAG_KEEP_QUESTIONS=false; rows older than RAG_QUESTION_RETENTION_DAYS are purged.
CREATE TABLE answers (
    id text PRIMARY KEY,
    collection text NOT NULL,
    question text,
    answer text,
    sources text,  -- JSON list of {n, document_id, filename, page, chunk_id, cited}
    abstained integer NOT NULL,
    abstain_reason text,
    mode text NOT NULL,
    created_at text NOT NULL
);
CREATE INDEX answers_by_collection ON answers (collection, created_at);
CREATE INDEX answers_by_time ON answers (created_at);
CREATE TABLE feedback (
    answer_id text PRIMARY KEY,
    collection text NOT NULL,
    rating text NOT NULL,  -- up | down
    comment text,
    source text,  -- the source the answer should have cited, as the user named it
    created_at text NOT NULL,
    updated_at text NOT NULL
);
CREATE INDEX feedback_by_collection ON feedback (collection, updated_at);
