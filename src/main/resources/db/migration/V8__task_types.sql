-- Segmentation, pose and oriented-box models are training jobs' tasks too.
ALTER TABLE training_jobs DROP CONSTRAINT training_jobs_task_type_check;
ALTER TABLE training_jobs ADD CONSTRAINT training_jobs_task_type_check
  CHECK (task_type IN ('detection', 'segmentation', 'pose', 'obb', 'classification'));
