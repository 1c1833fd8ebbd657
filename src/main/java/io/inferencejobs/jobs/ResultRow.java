package io.inferencejobs.jobs;

import io.vertx.core.json.JsonArray;

/**
 * One image's outcome, as the worker writes it. {@code error} is null on success; {@code errorCode} names its kind
 * (missing, too_large, corrupt, unsupported_format, empty, too_small, unreadable).
 */
public record ResultRow(int imageIndex, String imageName, Integer width, Integer height, JsonArray predictions,
                        Double decodeMs, Double preprocessMs, Double inferenceMs, Double postprocessMs,
                        String error, String errorCode) {
}
