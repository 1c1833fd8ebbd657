package io.inferencejobs.api;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/** Liveness and readiness (PostgreSQL, S3, and at least one worker heartbeating). */
final class HealthHandlers {
  /** A worker that has not been seen for this long is not counted. */
  static final int WORKER_STALE_SECONDS = 15;

  private final ApiContext api;

  HealthHandlers(ApiContext api) {
    this.api = api;
  }

  void live(RoutingContext ctx) {
    Http.json(ctx, new JsonObject().put("status", "up"));
  }

  void ready(RoutingContext ctx) {
    Future<JsonArray> workers = api.workers().live(WORKER_STALE_SECONDS);
    Future<Void> s3 = api.storage().checkBucket();
    Future.join(workers, s3).onComplete(ar -> {
      boolean pgOk = workers.succeeded();
      boolean s3Ok = s3.succeeded();
      boolean workersOk = pgOk && !workers.result().isEmpty();
      boolean ready = pgOk && s3Ok && workersOk;
      JsonObject body = new JsonObject()
          .put("status", ready ? "ready" : "not_ready")
          .put("postgres", pgOk ? "up" : "down: " + workers.cause().getMessage())
          .put("s3", s3Ok ? "up" : "down: " + s3.cause().getMessage())
          .put("workers", pgOk ? workers.result() : new JsonArray());
      ctx.response().setStatusCode(ready ? 200 : 503);
      Http.json(ctx, body);
    });
  }
}
