package io.inferencejobs.jobs;

import io.vertx.core.json.JsonObject;

/** A validated job request, ready to be stored. */
public record NewJob(long trainingJobId, String checkpointPath, String modelUri, String inferenceType,
                     String taskType, JsonObject inputData, String idempotencyKey, String requestHash) {
}
