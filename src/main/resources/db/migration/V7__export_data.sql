-- What exports need: the class names of the model a job ran (recorded by the first worker that loads it), and a
-- stable code for each image's error beside its message.
ALTER TABLE inference_jobs ADD COLUMN class_names JSONB;
ALTER TABLE image_results ADD COLUMN error_code TEXT;

-- A job may be run again on the images that failed: each run is an attempt.
ALTER TABLE inference_jobs ADD COLUMN attempt INT NOT NULL DEFAULT 1;
-- What the job asked for at creation: a webhook {url, secret, events} and export files {s3_prefix, formats}.
ALTER TABLE inference_jobs ADD COLUMN webhook JSONB;
ALTER TABLE inference_jobs ADD COLUMN output JSONB;
-- Retention deletes ended jobs by age.
CREATE INDEX inference_jobs_ended_idx ON inference_jobs (completed_at) WHERE status IN ('completed', 'failed', 'cancelled');
-- Deleting a job deletes the uploaded images no other job uses.
CREATE INDEX job_images_s3_uri_idx ON job_images (s3_uri);

-- The outbox: what must leave the service after a job event, kept until it has (at least once) or gave up.
-- kind 'webhook': one delivery of one event to the job's webhook (id = the webhook-id header, the same on every try);
-- kind 'output': the job's export files written to S3 when it ended.
CREATE TABLE job_deliveries (
  id               TEXT PRIMARY KEY,
  job_id           BIGINT NOT NULL REFERENCES inference_jobs (id) ON DELETE CASCADE,
  kind             TEXT NOT NULL CHECK (kind IN ('webhook', 'output')),
  event            TEXT NOT NULL,
  event_seq        INT NOT NULL,
  payload          JSONB NOT NULL,
  state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts         INT NOT NULL DEFAULT 0,
  next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  lease_expires_at TIMESTAMPTZ,
  last_status      INT,
  last_error       TEXT,
  result           JSONB,
  created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  finished_at      TIMESTAMPTZ
);
CREATE INDEX job_deliveries_due_idx ON job_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX job_deliveries_job_idx ON job_deliveries (job_id, created_at);

-- Every job event the job's webhook listens to, and every terminal event of a job that asked for export files,
-- becomes a delivery in the transaction that stored the event: nothing is lost between the two, whichever code path
-- ended the job. Progress deliveries are at most one per job every 5 seconds.
CREATE FUNCTION job_event_deliveries() RETURNS trigger AS $$
DECLARE
  hook JSONB;
  out  JSONB;
BEGIN
  IF NEW.type NOT IN ('completed', 'failed', 'cancelled', 'progress') THEN
    RETURN NEW;
  END IF;
  SELECT webhook, output INTO hook, out FROM inference_jobs WHERE id = NEW.job_id;
  IF out IS NOT NULL AND NEW.type <> 'progress' THEN
    INSERT INTO job_deliveries (id, job_id, kind, event, event_seq, payload)
    VALUES ('out_' || NEW.job_id || '_' || NEW.seq, NEW.job_id, 'output', NEW.type, NEW.seq, out)
    ON CONFLICT (id) DO NOTHING;
  END IF;
  IF hook IS NOT NULL AND (hook -> 'events') ? NEW.type THEN
    IF NEW.type = 'progress' AND EXISTS (
        SELECT 1 FROM job_deliveries d WHERE d.job_id = NEW.job_id AND d.kind = 'webhook' AND d.event = 'progress'
          AND d.created_at > now() - interval '5 seconds') THEN
      RETURN NEW;
    END IF;
    INSERT INTO job_deliveries (id, job_id, kind, event, event_seq, payload)
    VALUES ('msg_' || NEW.job_id || '_' || NEW.seq, NEW.job_id, 'webhook', NEW.type, NEW.seq,
            jsonb_build_object('type', 'job.' || NEW.type, 'timestamp', to_jsonb(NEW.created_at),
                               'data', NEW.data || jsonb_build_object('job_id', NEW.job_id)))
    ON CONFLICT (id) DO NOTHING;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER job_event_deliveries AFTER INSERT ON job_events
  FOR EACH ROW EXECUTE FUNCTION job_event_deliveries();
