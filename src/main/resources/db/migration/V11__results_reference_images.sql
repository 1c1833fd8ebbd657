-- A result refers to its job's image row, no longer to the job's row: inserting results then locks only the rows
-- of the images written (each written by one worker), and the job's row is left to the one statement that moves
-- its counters. Deleting a job still deletes its results (job -> images -> results).
ALTER TABLE image_results DROP CONSTRAINT image_results_job_id_fkey;
ALTER TABLE image_results ADD CONSTRAINT image_results_image_fkey
  FOREIGN KEY (job_id, image_index) REFERENCES job_images (job_id, image_index) ON DELETE CASCADE NOT VALID;
ALTER TABLE image_results VALIDATE CONSTRAINT image_results_image_fkey;
