-- Training jobs own checkpoints; inference jobs run one checkpoint over many images.
CREATE TABLE training_jobs (
  id          BIGSERIAL PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  task_type   TEXT NOT NULL CHECK (task_type IN ('detection', 'classification')),
  class_names JSONB,
  checkpoints JSONB NOT NULL DEFAULT '{}'::jsonb,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE upload_sessions (
  id              UUID PRIMARY KEY,
  training_job_id BIGINT NOT NULL REFERENCES training_jobs (id),
  s3_prefix       TEXT NOT NULL,
  created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE uploaded_files (
  session_id        UUID NOT NULL REFERENCES upload_sessions (id) ON DELETE CASCADE,
  file_index        INT NOT NULL,
  original_filename TEXT NOT NULL,
  unique_filename   TEXT NOT NULL,
  s3_uri            TEXT NOT NULL UNIQUE,
  size_bytes        BIGINT NOT NULL,
  content_type      TEXT NOT NULL,
  PRIMARY KEY (session_id, file_index)
);

CREATE TABLE inference_jobs (
  id                    BIGSERIAL PRIMARY KEY,
  training_job_id       BIGINT NOT NULL REFERENCES training_jobs (id),
  checkpoint_path       TEXT NOT NULL,
  model_uri             TEXT NOT NULL,
  inference_type        TEXT NOT NULL,
  task_type             TEXT NOT NULL,
  status                TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
  input_data            JSONB NOT NULL,
  total_images          INT NOT NULL,
  processed_images      INT NOT NULL DEFAULT 0,
  failed_images         INT NOT NULL DEFAULT 0,
  inference_time_ms_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
  error_message         TEXT,
  idempotency_key       TEXT UNIQUE,
  request_hash          TEXT,
  event_seq             INT NOT NULL DEFAULT 0,
  created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
  started_at            TIMESTAMPTZ,
  completed_at          TIMESTAMPTZ
);
CREATE INDEX inference_jobs_training_idx ON inference_jobs (training_job_id, id DESC);
CREATE INDEX inference_jobs_status_idx ON inference_jobs (status, id DESC);

-- One row per input image, with the name the user knows it by.
CREATE TABLE job_images (
  job_id      BIGINT NOT NULL REFERENCES inference_jobs (id) ON DELETE CASCADE,
  image_index INT NOT NULL,
  s3_uri      TEXT NOT NULL,
  image_name  TEXT NOT NULL,
  PRIMARY KEY (job_id, image_index)
);

-- Work units: leased by workers, re-leased when a lease expires.
CREATE TABLE job_chunks (
  job_id           BIGINT NOT NULL REFERENCES inference_jobs (id) ON DELETE CASCADE,
  chunk_index      INT NOT NULL,
  first_index      INT NOT NULL,
  end_index        INT NOT NULL,
  state            TEXT NOT NULL CHECK (state IN ('pending', 'leased', 'done')),
  lease_owner      TEXT,
  lease_expires_at TIMESTAMPTZ,
  attempts         INT NOT NULL DEFAULT 0,
  processed_by     TEXT,
  PRIMARY KEY (job_id, chunk_index)
);
CREATE INDEX job_chunks_open_idx ON job_chunks (job_id, chunk_index) WHERE state <> 'done';

-- Exactly one result per (job, image): inserts are idempotent.
CREATE TABLE image_results (
  job_id                 BIGINT NOT NULL REFERENCES inference_jobs (id) ON DELETE CASCADE,
  image_index            INT NOT NULL,
  width                  INT,
  height                 INT,
  predictions            JSONB NOT NULL DEFAULT '[]'::jsonb,
  num_detections         INT NOT NULL DEFAULT 0,
  decode_time_ms         DOUBLE PRECISION,
  preprocessing_time_ms  DOUBLE PRECISION,
  inference_time_ms      DOUBLE PRECISION,
  postprocessing_time_ms DOUBLE PRECISION,
  error                  TEXT,
  worker                 TEXT,
  created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, image_index)
);

-- Every event published about a job, kept so that streams can resume (Last-Event-ID).
CREATE TABLE job_events (
  id         BIGSERIAL PRIMARY KEY,
  job_id     BIGINT NOT NULL REFERENCES inference_jobs (id) ON DELETE CASCADE,
  seq        INT NOT NULL,
  type       TEXT NOT NULL,
  data       JSONB NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (job_id, seq)
);

-- Worker nodes announce themselves here; readiness and dispatch read it.
CREATE TABLE workers (
  worker_id  TEXT PRIMARY KEY,
  node_id    TEXT NOT NULL,
  device     TEXT NOT NULL,
  provider   TEXT,
  slots      INT NOT NULL,
  free_slots INT NOT NULL,
  last_seen  TIMESTAMPTZ NOT NULL DEFAULT now()
);
