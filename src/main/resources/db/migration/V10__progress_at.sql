-- When the job's last progress event was recorded: every worker's result write checks it under the job row's lock,
-- so that a job run by many workers still sends at most one progress event per 100 ms.
ALTER TABLE inference_jobs ADD COLUMN progress_at TIMESTAMPTZ;
