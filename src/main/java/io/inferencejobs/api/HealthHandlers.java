package io.inferencejobs.api;

import io.inferencejobs.management.Readiness;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.function.Predicate;

/**
 * Liveness and readiness (PostgreSQL, S3, and at least one worker heartbeating), on the public port without a key.
 * Anyone gets the verdict and the number of workers seen; only an admin key (or authentication off) gets the
 * workers themselves and the reasons a dependency is down, which name hosts and nodes. The management port, which
 * listens on loopback by default, always gives everything.
 */
final class HealthHandlers {
  private final ApiContext api;
  private final Predicate<RoutingContext> seesDetail;

  HealthHandlers(ApiContext api, Predicate<RoutingContext> seesDetail) {
    this.api = api;
    this.seesDetail = seesDetail;
  }

  void live(RoutingContext ctx) {
    Http.json(ctx, new JsonObject().put("status", "up"));
  }

  void ready(RoutingContext ctx) {
    boolean detail = seesDetail.test(ctx);
    Readiness.check(api.workers(), api.storage(), new JsonArray(), true).onSuccess(body -> {
      ctx.response().setStatusCode("not_ready".equals(body.getString("status")) ? 503 : 200);
      Http.json(ctx, detail ? body : summary(body));
    });
  }

  /** The verdict alone: each dependency up or down, and how many workers were seen. */
  static JsonObject summary(JsonObject body) {
    return new JsonObject().put("status", body.getString("status"))
        .put("postgres", body.getString("postgres").startsWith("up") ? "up" : "down")
        .put("s3", body.getString("s3").startsWith("up") ? "up" : "down")
        .put("workers_seen", body.getInteger("workers_seen"));
  }
}
