package io.inferencejobs.jobs;

import io.vertx.core.json.JsonObject;

/** An event about to be persisted (it gets its ids inside the transaction). */
public record NewEvent(String type, JsonObject data) {
}
