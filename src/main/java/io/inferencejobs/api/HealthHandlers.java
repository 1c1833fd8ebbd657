package io.inferencejobs.api;

import io.inferencejobs.management.Readiness;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/** Liveness and readiness (PostgreSQL, S3, and at least one worker heartbeating). */
final class HealthHandlers {
  private final ApiContext api;

  HealthHandlers(ApiContext api) {
    this.api = api;
  }

  void live(RoutingContext ctx) {
    Http.json(ctx, new JsonObject().put("status", "up"));
  }

  void ready(RoutingContext ctx) {
    Readiness.check(api.workers(), api.storage(), new JsonArray(), true).onSuccess(body -> {
      ctx.response().setStatusCode("not_ready".equals(body.getString("status")) ? 503 : 200);
      Http.json(ctx, body);
    });
  }
}
