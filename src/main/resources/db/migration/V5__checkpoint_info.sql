-- What a worker found inside each checkpoint uploaded through the API (task, layout, input size, classes, sha256),
-- by checkpoint name, beside the name -> s3 URI map.
ALTER TABLE training_jobs ADD COLUMN checkpoint_info JSONB NOT NULL DEFAULT '{}'::jsonb;
