package io.inferencejobs.jobs;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;

import java.time.OffsetDateTime;

/**
 * One inference job as stored. {@code tenant}: the tenant that owns it, null when made without authentication.
 * {@code attempt} counts its runs (a retry of its failed images is another). {@code webhook} holds its secret, which
 * {@link #toJson()} never shows.
 */
public record Job(
    long id,
    long trainingJobId,
    String checkpointPath,
    String modelUri,
    String inferenceType,
    String taskType,
    JobStatus status,
    JsonObject inputData,
    int totalImages,
    int processedImages,
    int failedImages,
    double inferenceTimeMsSum,
    String errorMessage,
    OffsetDateTime createdAt,
    OffsetDateTime startedAt,
    OffsetDateTime completedAt,
    JsonArray workers,
    int eventSeq,
    String tenant,
    int attempt,
    JsonObject webhook,
    JsonObject output) {

  static Job from(Row row) {
    Object workers = row.getValue("workers");
    return new Job(
        row.getLong("id"),
        row.getLong("training_job_id"),
        row.getString("checkpoint_path"),
        row.getString("model_uri"),
        row.getString("inference_type"),
        row.getString("task_type"),
        JobStatus.of(row.getString("status")),
        (JsonObject) row.getJson("input_data"),
        row.getInteger("total_images"),
        row.getInteger("processed_images"),
        row.getInteger("failed_images"),
        row.getDouble("inference_time_ms_sum"),
        row.getString("error_message"),
        row.getOffsetDateTime("created_at"),
        row.getOffsetDateTime("started_at"),
        row.getOffsetDateTime("completed_at"),
        workers instanceof JsonArray a ? a : new JsonArray(),
        row.getInteger("event_seq"),
        row.getString("tenant"),
        row.getInteger("attempt"),
        (JsonObject) row.getJson("webhook"),
        (JsonObject) row.getJson("output"));
  }

  public Double avgInferenceTimeMs() {
    int ok = processedImages - failedImages;
    return ok <= 0 ? null : round(inferenceTimeMsSum / ok);
  }

  /** Percentage of images done, 0..100. */
  public double progress() {
    return totalImages == 0 ? 100.0 : round(100.0 * processedImages / totalImages);
  }

  /** The job as domain data (what its events store); the API adds its links when it renders it. */
  public JsonObject toJson() {
    return new JsonObject()
        .put("id", id)
        .put("training_job_id", trainingJobId)
        .put("checkpoint_path", checkpointPath)
        .put("inference_type", inferenceType)
        .put("task_type", taskType)
        .put("status", status.db())
        .put("input_data", inputData)
        .put("total_images", totalImages)
        .put("processed_images", processedImages)
        .put("failed_images", failedImages)
        .put("progress", progress())
        .put("avg_inference_time_ms", avgInferenceTimeMs())
        .put("error_message", errorMessage)
        .put("created_at", ts(createdAt))
        .put("started_at", ts(startedAt))
        .put("completed_at", ts(completedAt))
        .put("workers", workers)
        .put("attempt", attempt)
        .put("webhook", webhook == null ? null : new JsonObject().put("url", webhook.getString("url"))
            .put("events", webhook.getJsonArray("events")))
        .put("output", output);
  }

  static String ts(OffsetDateTime t) {
    return t == null ? null : t.toInstant().toString();
  }

  static double round(double v) {
    return Math.round(v * 1000.0) / 1000.0;
  }
}
