-- A chunk that failed on a transient fault (S3 or PostgreSQL unreachable, a full pool, a timeout) goes back to
-- 'pending' and may not be leased again before not_before (backoff); last_error keeps the cause, so that a chunk
-- that keeps failing can fail its job with it.
ALTER TABLE job_chunks ADD COLUMN not_before TIMESTAMPTZ;
ALTER TABLE job_chunks ADD COLUMN last_error TEXT;
