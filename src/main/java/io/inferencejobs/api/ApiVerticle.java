package io.inferencejobs.api;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.StaticHandler;
import io.vertx.ext.web.openapi.router.OpenAPIRoute;
import io.vertx.ext.web.openapi.router.RequestExtractor;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import io.vertx.openapi.contract.OpenAPIContract;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * The HTTP API of one node: every route comes from the OpenAPI contract, bound exactly once by operation id.
 */
public final class ApiVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(ApiVerticle.class);
  public static final String CONTRACT = "openapi/inference-jobs.yaml";
  private static final String UPLOAD_PATH = "/api/v1/test_inference/inference/upload-images";

  private final ApiContext api;
  private EventStreams streams;
  private HttpServer server;

  public ApiVerticle(ApiContext api) {
    this.api = api;
  }

  /** The handlers, keyed by operation id; a test checks this matches the contract one to one. */
  Map<String, Handler<RoutingContext>> handlers() {
    if (streams == null) {
      streams = new EventStreams(vertx, api.jobs(), api.config().http().sseHeartbeatSeconds());
    }
    JobHandlers jobs = new JobHandlers(vertx, api);
    TrainingJobHandlers training = new TrainingJobHandlers(api);
    HealthHandlers health = new HealthHandlers(api);
    UploadHandler upload = new UploadHandler(api);
    Map<String, Handler<RoutingContext>> h = new LinkedHashMap<>();
    h.put("healthLive", health::live);
    h.put("healthReady", health::ready);
    h.put("createTrainingJob", training::create);
    h.put("listTrainingJobs", training::list);
    h.put("getTrainingJob", training::get);
    h.put("uploadImages", upload::handle);
    h.put("createInferenceJob", jobs::create);
    h.put("listInferenceJobs", jobs::list);
    h.put("getInferenceJob", jobs::get);
    h.put("getInferenceJobResults", jobs::results);
    h.put("cancelInferenceJob", jobs::cancel);
    h.put("getInferenceJobImage", jobs::image);
    h.put("streamInferenceJobEvents", streams::jobStream);
    h.put("streamAllJobEvents", streams::allJobsStream);
    return h;
  }

  @Override
  public Future<?> start() {
    streams = new EventStreams(vertx, api.jobs(), api.config().http().sseHeartbeatSeconds());
    return streams.start()
        .compose(v -> OpenAPIContract.from(vertx, CONTRACT))
        .compose(contract -> {
          HttpServerOptions options = new HttpServerOptions().setHost(api.config().http().host())
              .setPort(api.config().http().port()).setTcpNoDelay(true).setIdleTimeout(0);
          return vertx.createHttpServer(options).requestHandler(router(contract)).listen();
        })
        .onSuccess(s -> {
          server = s;
          LOG.info("API listening on http://{}:{}/", api.config().http().host(), s.actualPort());
        });
  }

  /** Binds every operation of the contract to its handler, exactly once; fails on an operation without one. */
  Router router(OpenAPIContract contract) {
    RouterBuilder builder = RouterBuilder.create(vertx, contract, RequestExtractor.withBodyHandler());
    builder.rootHandler(new RequestLog());
    builder.rootHandler(bodyHandler());
    ErrorHandler errors = new ErrorHandler();
    String contractJson = contract.getRawContract().encode();
    Map<String, Handler<RoutingContext>> handlers = handlers();
    handlers.put("getContract", ctx -> ctx.response().putHeader("Content-Type", "application/json")
        .end(contractJson));
    for (OpenAPIRoute route : builder.getRoutes()) {
      String op = route.getOperation().getOperationId();
      Handler<RoutingContext> handler = handlers.remove(op);
      if (handler == null) {
        throw new IllegalStateException("no handler for operation " + op);
      }
      if (op.equals("uploadImages")) {
        // multipart: files are streamed to disk by the body handler and checked in code (see UploadHandler)
        route.setDoValidation(false);
      }
      route.addHandler(handler).addFailureHandler(errors);
    }
    if (!handlers.isEmpty()) {
      throw new IllegalStateException("handlers for operations the contract does not have: " + handlers.keySet());
    }
    Router router = builder.createRouter();
    // the web UI: static files from the jar, after every API route
    router.route(HttpMethod.GET, "/*").handler(StaticHandler.create("webroot").setCachingEnabled(false)
        .setIndexPage("index.html"));
    router.errorHandler(404, ctx -> ErrorHandler.send(ctx, ErrorHandler.byStatus(404, null)));
    router.errorHandler(405, ctx -> ErrorHandler.send(ctx, ErrorHandler.byStatus(405, null)));
    router.errorHandler(400, ctx -> ErrorHandler.send(ctx, ErrorHandler.toApiError(ctx)));
    router.errorHandler(413, ctx -> ErrorHandler.send(ctx, ErrorHandler.byStatus(413, null)));
    router.errorHandler(500, errors);
    return router;
  }

  @Override
  public Future<?> stop() {
    return streams.stop();
  }

  public int port() {
    return server.actualPort();
  }

  public EventStreams streams() {
    return streams;
  }

  private Handler<RoutingContext> bodyHandler() {
    BodyHandler json = BodyHandler.create(false).setBodyLimit(api.config().limits().maxJsonBodyBytes());
    BodyHandler uploads = BodyHandler.create(api.config().dataDir().resolve("uploads-tmp").toString())
        .setBodyLimit(api.config().limits().maxUploadBytes())
        .setDeleteUploadedFilesOnEnd(true)
        .setMergeFormAttributes(false);
    return ctx -> {
      if (ctx.request().path().equals(UPLOAD_PATH)) {
        uploads.handle(ctx);
      } else {
        json.handle(ctx);
      }
    };
  }

  /** One log line per request with its correlation id (X-Request-Id, taken from the client or made here). */
  private static final class RequestLog implements Handler<RoutingContext> {
    @Override
    public void handle(RoutingContext ctx) {
      long start = System.nanoTime();
      String id = ctx.request().getHeader("X-Request-Id");
      String rid = id == null || id.isBlank() || id.length() > 100 ? UUID.randomUUID().toString() : id;
      ctx.put("request_id", rid);
      ctx.response().putHeader("X-Request-Id", rid);
      ctx.addEndHandler(ar -> LOG.info("{} {} {} {} ms rid={}", ctx.request().method(), ctx.request().path(),
          ctx.response().getStatusCode(), String.format("%.1f", (System.nanoTime() - start) / 1e6), rid));
      ctx.next();
    }
  }
}
