package io.inferencejobs.management;

import io.inferencejobs.config.AppConfig;
import io.inferencejobs.jobs.WorkerRepository;
import io.inferencejobs.metrics.Metrics;
import io.inferencejobs.storage.S3Storage;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.Supplier;

/**
 * The management port every node opens, worker-only nodes included: {@code /health/live}, {@code /health/ready} and
 * {@code /metrics}, without a key, for probes and scrapers. Bind it ({@code management.host}) where only operators
 * and their tools reach; it shows no tenant's data.
 */
public final class ManagementVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(ManagementVerticle.class);

  private final AppConfig.ManagementConfig config;
  private final WorkerRepository workers;
  private final S3Storage storage;
  private final Metrics metrics;
  private final Supplier<JsonArray> localWorkers;
  private HttpServer server;

  public ManagementVerticle(AppConfig.ManagementConfig config, WorkerRepository workers, S3Storage storage,
                            Metrics metrics, Supplier<JsonArray> localWorkers) {
    this.config = config;
    this.workers = workers;
    this.storage = storage;
    this.metrics = metrics;
    this.localWorkers = localWorkers;
  }

  @Override
  public Future<?> start() {
    Router router = Router.router(vertx);
    router.get("/health/live").handler(ctx -> json(ctx, 200, new JsonObject().put("status", "up")));
    router.get("/health/ready").handler(this::ready);
    router.get("/metrics").handler(ctx -> ctx.response()
        .putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8").end(metrics.scrape()));
    router.route().handler(ctx -> json(ctx, 404, new JsonObject().put("error", new JsonObject()
        .put("code", "not_found").put("message", "the management port serves /health/live, /health/ready and /metrics")
        .put("details", new JsonArray()))));
    return vertx.createHttpServer(new HttpServerOptions().setHost(config.host()).setPort(config.port())
            .setIdleTimeout(60))
        .requestHandler(router).listen()
        .onSuccess(s -> {
          server = s;
          LOG.info("management port on http://{}:{}/ (health, metrics)", config.host(), s.actualPort());
        });
  }

  public int port() {
    return server.actualPort();
  }

  private void ready(RoutingContext ctx) {
    Readiness.check(workers, storage, localWorkers.get(), false)
        .onSuccess(body -> json(ctx, "not_ready".equals(body.getString("status")) ? 503 : 200, body));
  }

  private static void json(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body.encode());
  }
}
