package io.inferencejobs.jobs;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;

import java.time.OffsetDateTime;

/**
 * A training job: the owner of checkpoints that inference jobs run. {@code checkpoints} maps names to s3:// URIs;
 * {@code checkpointInfo} holds, by name, what a worker found inside the checkpoints uploaded through the API.
 */
public record TrainingJob(long id, String name, String taskType, JsonArray classNames, JsonObject checkpoints,
                          JsonObject checkpointInfo, OffsetDateTime createdAt) {

  static TrainingJob from(Row row) {
    Object names = row.getJson("class_names");
    Object info = row.getJson("checkpoint_info");
    return new TrainingJob(row.getLong("id"), row.getString("name"), row.getString("task_type"),
        names instanceof JsonArray a ? a : null, (JsonObject) row.getJson("checkpoints"),
        info instanceof JsonObject o ? o : new JsonObject(), row.getOffsetDateTime("created_at"));
  }

  public JsonObject toJson() {
    return new JsonObject().put("id", id).put("name", name).put("task_type", taskType)
        .put("class_names", classNames).put("checkpoints", checkpoints).put("checkpoint_info", checkpointInfo)
        .put("created_at", Job.ts(createdAt));
  }
}
