-- At most one queued-or-running sync job per synced source, held by the database itself: a manual sync and a
-- scheduled one (or two replicas) racing to start one both get the same job (rag/storage/jobs/queries.py,
-- `submit_sync`, whose ON CONFLICT names this index's columns and condition). Jobs queued before this
-- migration have no source_id and stand in nobody's way.
ALTER TABLE jobs ADD COLUMN source_id text;
CREATE UNIQUE INDEX jobs_one_sync_per_source ON jobs (source_id)
    WHERE source_id IS NOT NULL AND status IN ('queued', 'running');
