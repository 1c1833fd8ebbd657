package io.inferencejobs.bus;

import io.vertx.core.json.JsonObject;

/**
 * One persisted job event. {@code id} is global (the all-jobs stream's event id), {@code seq} increases per job
 * (the job stream's event id). {@code tenant} is the job's tenant (null without authentication): streams deliver an
 * event only to callers who may see the job.
 */
public record JobEvent(long id, long jobId, long trainingJobId, int seq, String type, JsonObject data,
                       String tenant) {

  public static final String STATUS = "status";
  public static final String PROGRESS = "progress";
  /** The images one result write finished, as {@code {"images": [...]}}: one event per write, not per image. */
  public static final String IMAGES = "images";
  /** Not stored: published once when a job is deleted, so that its open streams end. */
  public static final String DELETED = "deleted";

  public static boolean terminal(String type) {
    return "completed".equals(type) || "failed".equals(type) || "cancelled".equals(type);
  }

  public JsonObject toJson() {
    return new JsonObject().put("id", id).put("job_id", jobId).put("training_job_id", trainingJobId).put("seq", seq)
        .put("type", type).put("data", data).put("tenant", tenant);
  }

  public static JobEvent fromJson(JsonObject json) {
    return new JobEvent(json.getLong("id"), json.getLong("job_id"), json.getLong("training_job_id"),
        json.getInteger("seq"), json.getString("type"), json.getJsonObject("data"), json.getString("tenant"));
  }
}
