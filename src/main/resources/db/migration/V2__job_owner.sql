-- The API key that created a job: per-key limits count its pending and running jobs.
ALTER TABLE inference_jobs ADD COLUMN owner TEXT;
CREATE INDEX inference_jobs_owner_active_idx ON inference_jobs (owner) WHERE status IN ('pending', 'running');
