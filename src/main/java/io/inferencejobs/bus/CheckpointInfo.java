package io.inferencejobs.bus;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;

/** What a worker found inside a checkpoint: its task, output layout, input size and class names. */
public record CheckpointInfo(String task, String layout, int inputWidth, int inputHeight, List<String> classNames) {
  /** A failure reply: the file is not a model the engine reads. */
  public static final int NOT_A_MODEL = 422;
  /** A failure reply: the checkpoint could not be read just now (S3, a full pool); try again. */
  public static final int UNAVAILABLE = 503;

  public JsonObject toJson() {
    return new JsonObject().put("task", task).put("layout", layout).put("input_width", inputWidth)
        .put("input_height", inputHeight)
        .put("class_names", classNames == null ? null : new JsonArray(List.copyOf(classNames)))
        .put("num_classes", classNames == null ? null : classNames.size());
  }

  public static CheckpointInfo fromJson(JsonObject json) {
    JsonArray names = json.getJsonArray("class_names");
    return new CheckpointInfo(json.getString("task"), json.getString("layout"), json.getInteger("input_width"),
        json.getInteger("input_height"), names == null ? null : names.stream().map(String::valueOf).toList());
  }
}
