package io.inferencejobs.management;

import io.inferencejobs.jobs.WorkerRepository;
import io.inferencejobs.storage.S3Storage;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * Whether a node can do its work: PostgreSQL and S3 answer, and there is a worker to run jobs (the cluster's, for an
 * API node; its own, for a worker node, none of which may be degraded for the node to be fully ready). The one
 * readiness check, for the API's {@code /health/ready} and the management port's.
 */
public final class Readiness {
  /** A worker that has not been seen for this long is not counted. */
  public static final int WORKER_STALE_SECONDS = 15;

  private Readiness() {
  }

  /**
   * {@code local}: this node's own workers (empty on an API-only node); {@code needClusterWorker}: whether a node
   * without workers of its own is ready only when some worker of the cluster is seen (the API's public readiness:
   * "jobs can run") or as soon as PostgreSQL and S3 answer (the management port's: "this node can serve", so that a
   * load balancer keeps API nodes while workers restart). The answer's {@code status} is ready, degraded (ready, but
   * a worker runs on a fallback device) or not_ready.
   */
  public static Future<JsonObject> check(WorkerRepository workers, S3Storage storage, JsonArray local,
                                         boolean needClusterWorker) {
    Future<JsonArray> seen = workers.live(WORKER_STALE_SECONDS);
    Future<Void> s3 = storage.checkBucket();
    return Future.join(seen, s3).transform(ar -> {
      boolean pgOk = seen.succeeded();
      boolean s3Ok = s3.succeeded();
      boolean workersOk = !local.isEmpty() || !needClusterWorker || (pgOk && !seen.result().isEmpty());
      boolean degraded = local.stream().anyMatch(w -> ((JsonObject) w).getBoolean("degraded", false));
      boolean ready = pgOk && s3Ok && workersOk;
      JsonObject body = new JsonObject()
          .put("status", !ready ? "not_ready" : degraded ? "degraded" : "ready")
          .put("postgres", pgOk ? "up" : "down: " + seen.cause().getMessage())
          .put("s3", s3Ok ? "up" : "down: " + s3.cause().getMessage())
          .put("workers", pgOk ? seen.result() : new JsonArray())
          .put("workers_seen", pgOk ? seen.result().size() : 0);
      if (!local.isEmpty()) {
        body.put("node_workers", local);
      }
      return Future.succeededFuture(body);
    });
  }
}
