package io.inferencejobs.api;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.CorsHandler;
import io.vertx.ext.web.handler.StaticHandler;
import io.vertx.ext.web.openapi.router.OpenAPIRoute;
import io.vertx.ext.web.openapi.router.RequestExtractor;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import io.vertx.openapi.contract.OpenAPIContract;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The HTTP API of one node: every route comes from the OpenAPI contract, bound exactly once by operation id.
 */
public final class ApiVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(ApiVerticle.class);
  public static final String CONTRACT = "openapi/inference-jobs.yaml";
  private static final String UPLOAD_PATH = "/api/v1/test_inference/inference/upload-images";

  private final ApiContext api;
  private final StreamTokens tokens;
  private EventStreams streams;
  private HttpServer server;

  public ApiVerticle(ApiContext api) {
    this.api = api;
    this.tokens = new StreamTokens(api.config().auth().tokenSecret(), api.config().auth().streamTokenSeconds());
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
    h.put("createStreamToken", this::streamToken);
    h.put("getMetrics", this::metrics);
    return h;
  }

  @Override
  public Future<?> start() {
    streams = new EventStreams(vertx, api.jobs(), api.config().http().sseHeartbeatSeconds());
    api.metrics().gauge("sse_connections", "Open event streams on this node", streams::openStreams);
    return streams.start()
        .compose(v -> OpenAPIContract.from(vertx, CONTRACT))
        .compose(contract -> {
          HttpServerOptions options = new HttpServerOptions().setHost(api.config().http().host())
              .setPort(api.config().http().port()).setTcpNoDelay(true).setIdleTimeout(0);
          return vertx.createHttpServer(options).requestHandler(router(contract))
              .invalidRequestHandler(ApiVerticle::invalidRequest).listen();
        })
        .onSuccess(s -> {
          server = s;
          LOG.info("API listening on http://{}:{}/", api.config().http().host(), s.actualPort());
          if (!api.config().auth().enabled()) {
            LOG.warn("authentication is OFF: anyone who can reach {}:{} may use the API (allowed on a loopback host "
                + "only; configure API_KEYS to turn it on)", api.config().http().host(), s.actualPort());
          }
        });
  }

  /** Binds every operation of the contract to its handler, exactly once; fails on an operation without one. */
  Router router(OpenAPIContract contract) {
    RouterBuilder builder = RouterBuilder.create(vertx, contract, RequestExtractor.withBodyHandler());
    builder.rootHandler(new RequestLog());
    if (!api.config().http().corsOrigins().isEmpty()) {
      builder.rootHandler(cors(api.config().http().corsOrigins()));
    }
    // before the body handler: a request without a valid key is refused before its body is read
    builder.rootHandler(new AuthHandler(api.config(), contract.getRawContract(), tokens));
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
      // the scopes in the contract's security requirements are enforced by AuthHandler, before the body is read
      route.setDoSecurity(false);
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

  /**
   * A request the HTTP decoder refused (request line or headers too long, malformed): answered in the JSON error
   * shape like every other error, then the connection is closed.
   */
  static void invalidRequest(io.vertx.core.http.HttpServerRequest request) {
    Throwable cause = request.decoderResult().cause();
    String message = cause == null || cause.getMessage() == null ? "" : cause.getMessage();
    int status = message.startsWith("An HTTP line is larger than") ? 414
        : message.startsWith("HTTP header is larger than") ? 431 : 400;
    String reason = switch (status) {
      case 414 -> "the request line (path and query) is too long";
      case 431 -> "the request headers are too large";
      default -> "malformed HTTP request";
    };
    ApiError error = new ApiError(status, status == 400 ? "bad_request" : "request_too_large", reason,
        List.of(new ApiError.Detail(status == 431 ? "headers" : "request", reason)), null);
    request.response().setStatusCode(status).putHeader("Content-Type", "application/json")
        .putHeader("Connection", "close").end(error.toJson().encode());
  }

  /** {@code POST /api/v1/stream-tokens}: a read-only token for event streams, for the calling key. */
  private void streamToken(RoutingContext ctx) {
    var key = AuthHandler.principal(ctx);
    if (key == null) {
      throw new ApiError(404, "not_found", "authentication is off: event streams need no token", List.of(), null);
    }
    long now = System.currentTimeMillis() / 1000;
    ctx.response().setStatusCode(201).putHeader("Cache-Control", "no-store");
    Http.json(ctx, new JsonObject()
        .put("token", tokens.issue(key.name(), now))
        .put("token_type", "stream")
        .put("scope", "read")
        .put("expires_in", tokens.ttlSeconds())
        .put("expires_at", java.time.Instant.ofEpochSecond(now + tokens.ttlSeconds()).toString()));
  }

  private void metrics(RoutingContext ctx) {
    if (!api.config().metrics().enabled()) {
      throw new ApiError(404, "not_found", "metrics are off (metrics.enabled)", List.of(), null);
    }
    ctx.response().putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8").end(api.metrics().scrape());
  }

  /** Cross-origin access for the configured origins only; without any, browsers keep to the same origin. */
  private static Handler<RoutingContext> cors(List<String> origins) {
    CorsHandler cors = CorsHandler.create()
        .allowedMethods(Set.of(HttpMethod.GET, HttpMethod.POST, HttpMethod.OPTIONS))
        .allowedHeaders(Set.of("Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID", "X-Request-Id"))
        .exposedHeaders(Set.of("Location", "Retry-After", "X-Request-Id", "WWW-Authenticate"))
        .maxAgeSeconds(600);
    for (String origin : origins) {
      cors.addOrigin(origin);
    }
    return cors;
  }

  /**
   * A multipart body whose last part is never terminated leaves the body handler waiting for the end of that file
   * forever, after the request itself has ended. Such a request is answered 400 shortly after its end instead.
   */
  private void watchMultipart(RoutingContext ctx) {
    long[] endedAt = {0};
    long timer = vertx.setPeriodic(500, id -> {
      if (ctx.response().ended() || ctx.get(UploadHandler.REACHED) != null) {
        vertx.cancelTimer(id);
      } else if (ctx.request().isEnded()) {
        if (endedAt[0] == 0) {
          endedAt[0] = System.nanoTime();
        } else if (System.nanoTime() - endedAt[0] > 1_000_000_000L) {
          vertx.cancelTimer(id);
          ErrorHandler.reply(ctx, ApiError.badRequest("files", "malformed multipart body: a part is not terminated "
              + "by its boundary"));
        }
      }
    });
    ctx.addEndHandler(ar -> vertx.cancelTimer(timer));
  }

  private Handler<RoutingContext> bodyHandler() {
    BodyHandler json = BodyHandler.create(false).setBodyLimit(api.config().limits().maxJsonBodyBytes());
    BodyHandler uploads = BodyHandler.create(api.config().dataDir().resolve("uploads-tmp").toString())
        .setBodyLimit(api.config().limits().maxUploadBytes())
        .setDeleteUploadedFilesOnEnd(true)
        .setMergeFormAttributes(false);
    return ctx -> {
      if (ctx.request().path().equals(UPLOAD_PATH)) {
        watchMultipart(ctx);
        uploads.handle(ctx);
      } else {
        json.handle(ctx);
      }
    };
  }

  /**
   * One log line per request with its correlation id (X-Request-Id, taken from the client or made here), the key's
   * name and, where the path names a job, the job id (also in the MDC as {@code job}, printed by logback).
   */
  private static final class RequestLog implements io.vertx.ext.web.handler.PlatformHandler {
    private static final Pattern JOB = Pattern.compile("/jobs/(\\d{1,19})(?:/|$)");
    private static final Pattern SAFE_ID = Pattern.compile("[\\w.:-]{1,100}");

    @Override
    public void handle(RoutingContext ctx) {
      long start = System.nanoTime();
      String id = ctx.request().getHeader("X-Request-Id");
      // a client's id is echoed into logs and headers: only a plain token, never line breaks or markup
      String rid = id == null || !SAFE_ID.matcher(id).matches() ? UUID.randomUUID().toString() : id;
      ctx.put("request_id", rid);
      ctx.response().putHeader("X-Request-Id", rid);
      Matcher job = JOB.matcher(ctx.request().path());
      String jobId = job.find() ? job.group(1) : null;
      ctx.addEndHandler(ar -> {
        var key = AuthHandler.principal(ctx);
        String who = key == null ? "" : " key=" + key.name();
        if (jobId != null) {
          MDC.put("job", jobId);
        }
        LOG.info("{} {} {} {} ms rid={}{}{}", ctx.request().method(), ctx.request().path(),
            ctx.response().getStatusCode(), String.format("%.1f", (System.nanoTime() - start) / 1e6), rid, who,
            jobId == null ? "" : " job=" + jobId);
        MDC.remove("job");
      });
      ctx.next();
    }
  }
}
