package io.inferencejobs.api;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.sqlclient.Row;

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
    Future<JsonArray> workers = api.pool().preparedQuery("""
            SELECT worker_id, node_id, device, provider, slots, free_slots FROM workers
            WHERE last_seen > now() - make_interval(secs => $1) ORDER BY worker_id""")
        .execute(io.vertx.sqlclient.Tuple.of((double) WORKER_STALE_SECONDS))
        .map(rows -> {
          JsonArray out = new JsonArray();
          for (Row r : rows) {
            out.add(new JsonObject().put("worker_id", r.getString("worker_id")).put("node_id", r.getString("node_id"))
                .put("device", r.getString("device")).put("provider", r.getString("provider"))
                .put("slots", r.getInteger("slots")).put("free_slots", r.getInteger("free_slots")));
          }
          return out;
        });
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
