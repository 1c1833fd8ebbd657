package io.inferencejobs.jobs;

import io.vertx.core.json.JsonArray;

/**
 * One image's outcome, as the worker writes it. {@code error} is null on success; {@code errorCode} names its kind
 * (missing, too_large, corrupt, unsupported_format, empty, too_small, unreadable). A classification model's result
 * has its top-k classes in {@code classifications} and no predictions.
 */
public record ResultRow(int imageIndex, String imageName, Integer width, Integer height, JsonArray predictions,
                        Double decodeMs, Double preprocessMs, Double inferenceMs, Double postprocessMs,
                        String error, String errorCode, JsonArray classifications) {

  /** A result without classifications (detection, segmentation, pose, OBB, or a failed image). */
  public ResultRow(int imageIndex, String imageName, Integer width, Integer height, JsonArray predictions,
                   Double decodeMs, Double preprocessMs, Double inferenceMs, Double postprocessMs, String error,
                   String errorCode) {
    this(imageIndex, imageName, width, height, predictions, decodeMs, preprocessMs, inferenceMs, postprocessMs, error,
        errorCode, null);
  }
}
