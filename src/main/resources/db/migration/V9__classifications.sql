-- A classification model's top-k classes per image, instead of whole-image boxes among the predictions.
ALTER TABLE image_results ADD COLUMN classifications JSONB;
