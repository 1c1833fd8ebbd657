package io.inferencejobs.jobs;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;

/**
 * A job's inference settings, typed, with their defaults: the one place in the code where they live. The contract
 * states the same defaults (a test holds them equal) and the web UI reads them from the contract. They are stored
 * with the job, filled in, so a job runs with the settings it was created with.
 *
 * @param classes class ids to keep; null for all (an empty list in a request means all too)
 */
public record InferenceSettings(double confidenceThreshold, double iouThreshold, int maxDetections, List<Integer> classes,
                                boolean agnosticNms) {
  /** Ultralytics' defaults, which users of YOLO models expect. */
  public static final InferenceSettings DEFAULTS = new InferenceSettings(0.25, 0.45, 100, null, false);

  public InferenceSettings {
    classes = classes == null ? null : List.copyOf(classes);
  }

  /** The settings in a job's {@code input_data}, each missing one at its default. */
  public static InferenceSettings from(JsonObject inputData) {
    JsonArray c = inputData.getJsonArray("classes");
    return new InferenceSettings(
        number(inputData, "confidence_threshold", DEFAULTS.confidenceThreshold),
        number(inputData, "iou_threshold", DEFAULTS.iouThreshold),
        inputData.getValue("max_detections") instanceof Number n ? n.intValue() : DEFAULTS.maxDetections,
        c == null || c.isEmpty() ? null : c.stream().map(o -> ((Number) o).intValue()).toList(),
        inputData.getValue("agnostic_nms") instanceof Boolean b ? b : DEFAULTS.agnosticNms);
  }

  /** {@code inputData} with every setting filled in (the image source is kept as it is). */
  public static JsonObject withDefaults(JsonObject inputData) {
    InferenceSettings s = from(inputData);
    JsonObject out = inputData.copy()
        .put("confidence_threshold", s.confidenceThreshold)
        .put("iou_threshold", s.iouThreshold)
        .put("max_detections", s.maxDetections)
        .put("agnostic_nms", s.agnosticNms);
    return out;
  }

  private static double number(JsonObject json, String field, double fallback) {
    return json.getValue(field) instanceof Number n ? n.doubleValue() : fallback;
  }
}
