package io.inferencejobs.jobs;

import io.vertx.core.json.JsonArray;

/** One image's outcome, as the worker writes it. {@code error} is null on success. */
public record ResultRow(int imageIndex, String imageName, Integer width, Integer height, JsonArray predictions,
                        Double decodeMs, Double preprocessMs, Double inferenceMs, Double postprocessMs,
                        String error) {
}
