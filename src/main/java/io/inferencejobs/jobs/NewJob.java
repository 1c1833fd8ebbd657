package io.inferencejobs.jobs;

import io.vertx.core.json.JsonObject;

/**
 * A validated job request, ready to be stored. {@code owner}: the API key's name, {@code tenant}: its tenant; both null
 * when authentication is off. {@code webhook} ({url, secret, events}) and {@code output} ({s3_prefix, formats}) are null
 * when the job did not ask for them.
 */
public record NewJob(long trainingJobId, String checkpointPath, String modelUri, String inferenceType,
                     String taskType, JsonObject inputData, String idempotencyKey, String requestHash, String owner,
                     String tenant, JsonObject webhook, JsonObject output) {
}
