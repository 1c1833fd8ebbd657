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
import io.vertx.ext.web.handler.HttpException;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import io.vertx.openapi.contract.OpenAPIContract;
import io.vertx.openapi.contract.Operation;
import io.vertx.openapi.validation.ValidatorException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The HTTP API of one node: every route comes from the OpenAPI contract, bound exactly once by operation id, and
 * everything about an operation hangs off its route: the key check, the body, validation, the tenant's rate, the
 * handler. The router normalises the path once and picks the route; no other code reads the path to decide anything.
 */
public final class ApiVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(ApiVerticle.class);
  public static final String CONTRACT = "openapi/inference-jobs.yaml";
  /**
   * Requests with bodies up to this size are validated on the event loop (tens of microseconds); larger ones, such
   * as a job listing thousands of image URIs, on the worker pool.
   */
  public static final int INLINE_VALIDATION_BYTES = 16 * 1024;

  /** The operations that stream their body themselves (to a spool file), past the JSON body handler and validator. */
  static final java.util.Set<String> STREAMED_OPERATIONS = java.util.Set.of("uploadImages", "uploadCheckpoint");
  /** The browser may run this page's own scripts and styles and load images from it, nothing else. */
  static final String CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; "
      + "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
      + "frame-ancestors 'none'";

  private final ApiContext api;
  private final ApiNode node;
  private final StreamTokens tokens;
  /** Keys and scopes: guards every operation, and tells the public readiness whether its caller is an admin. */
  private final AuthHandler auth;
  private final ConnectionGuard connections;
  private EventStreams streams;
  private UploadSweeper sweeper;
  private RetentionSweeper retention;
  private RateLimiter rates;
  private HttpServer server;

  /** A node's only instance (tests); a node with several builds them from one {@link ApiNode}. */
  public ApiVerticle(ApiContext api) {
    this(new ApiNode(api));
  }

  ApiVerticle(ApiNode node) {
    this.node = node;
    this.api = node.api;
    this.tokens = node.tokens;
    this.connections = node.connections;
    this.auth = new AuthHandler(api.config(), tokens);
  }

  /** The handlers, keyed by operation id; a test checks this matches the contract one to one. */
  Map<String, Handler<RoutingContext>> handlers() {
    if (streams == null) {
      streams = newStreams();
    }
    JobHandlers jobs = new JobHandlers(vertx, api, node.jobService, node.exportsRunning);
    TrainingJobHandlers training = new TrainingJobHandlers(api);
    HealthHandlers health = new HealthHandlers(api, auth::isAdmin);
    UploadHandler upload = new UploadHandler(vertx, api, this::rateLimit);
    Map<String, Handler<RoutingContext>> h = new LinkedHashMap<>();
    h.put("healthLive", health::live);
    h.put("healthReady", health::ready);
    h.put("createTrainingJob", training::create);
    h.put("listTrainingJobs", training::list);
    h.put("getTrainingJob", training::get);
    h.put("uploadImages", upload::handle);
    h.put("uploadCheckpoint", new CheckpointHandler(vertx, api, this::rateLimit)::put);
    h.put("createInferenceJob", jobs::create);
    h.put("listInferenceJobs", jobs::list);
    h.put("getInferenceJob", jobs::get);
    h.put("getInferenceJobResults", jobs::results);
    h.put("cancelInferenceJob", jobs::cancel);
    h.put("getInferenceJobImage", jobs::image);
    h.put("retryInferenceJob", jobs::retry);
    h.put("deleteInferenceJob", jobs::delete);
    h.put("exportInferenceJob", jobs::export);
    h.put("listWebhookDeliveries", jobs::deliveries);
    h.put("streamInferenceJobEvents", streams::jobStream);
    h.put("streamAllJobEvents", streams::allJobsStream);
    h.put("createStreamToken", this::streamToken);
    h.put("getMetrics", this::metrics);
    return h;
  }

  private EventStreams newStreams() {
    return new EventStreams(vertx, api.jobs(), api.config().http().sseHeartbeatSeconds(),
        api.config().limits().maxStreamsPerTenant(), node.streamsPerTenant);
  }

  @Override
  public Future<?> start() {
    streams = newStreams();
    node.streams.add(streams);
    var http = api.config().http();
    // one instance of the node sweeps and registers the gauges (which add every instance up)
    boolean first = node.claimFirst(this);
    if (first) {
      api.metrics().gauge("sse_connections", "Open event streams on this node", node::openStreams);
      api.metrics().gauge("http_connections", "Open HTTP connections on this node", connections::open);
      sweeper = new UploadSweeper(vertx, api);
      retention = new RetentionSweeper(vertx, api);
      retention.start();
    }
    return (first ? sweeper.start() : Future.<Void>succeededFuture())
        .compose(v -> streams.start())
        .compose(v -> OpenAPIContract.from(vertx, CONTRACT))
        .compose(contract -> {
          int maxFiles = api.config().limits().maxFilesPerUpload();
          // port 0 asks for a random port; Vert.x shares a random port among a deployment's instances only when it is
          // asked for as a negative number (a plain 0 would give each instance a port of its own)
          HttpServerOptions options = new HttpServerOptions().setHost(http.host())
              .setPort(http.port() == 0 ? -1 : http.port())
              .setTcpNoDelay(true).setIdleTimeout(http.idleTimeoutSeconds())
              // with cleartext HTTP/2 upgrade on, a connection is only announced once its first request's headers
              // have arrived: the header timeout and the connection caps need to see it when it is accepted
              .setHttp2ClearTextEnabled(false)
              // every file of an upload is a form field: the most files per upload must be reachable
              .setMaxFormFields(maxFiles + 16)
              .setMaxFormBufferedBytes(Math.max(HttpServerOptions.DEFAULT_MAX_FORM_BUFFERED_SIZE, 64 * 1024));
          Router router = router(contract);
          return vertx.createHttpServer(options)
              .connectionHandler(conn -> connections.onConnection(vertx, conn))
              .requestHandler(req -> {
                if (connections.admit(vertx, req)) {
                  router.handle(req);
                }
              })
              .invalidRequestHandler(this::invalidRequest).listen();
        })
        .onSuccess(s -> {
          server = s;
          node.listening(s.actualPort());
          if (!first) {
            return;
          }
          LOG.info("API listening on http://{}:{}/ ({} event loop{})", api.config().http().host(), s.actualPort(),
              http.eventLoops(), http.eventLoops() == 1 ? "" : "s");
          if (!api.config().auth().enabled()) {
            LOG.warn("authentication is OFF: anyone who can reach {}:{} may use the API (allowed on a loopback host "
                + "only; configure API_KEYS to turn it on)", api.config().http().host(), s.actualPort());
          }
        });
  }

  /**
   * Binds every operation of the contract to its handler, exactly once; fails on an operation without one. Each
   * operation's route runs: the key check for its security requirement, the body, validation against the contract,
   * the tenant's rate limit, then the handler. Uploads stream their body themselves (see UploadHandler).
   */
  Router router(OpenAPIContract contract) {
    if (rates == null) {
      rates = new RateLimiter(vertx, api.config().limits().ratePerSecond(), api.config().limits().rateBurst());
    }
    RouterBuilder builder = RouterBuilder.create(vertx, contract, RequestExtractor.withBodyHandler());
    builder.rootHandler(new RequestLog());
    builder.rootHandler(new SecurityHeaders());
    builder.rootHandler(new CanonicalPath());
    if (!api.config().http().corsOrigins().isEmpty()) {
      builder.rootHandler(cors(api.config().http().corsOrigins()));
    }
    BodyHandler json = BodyHandler.create(false).setBodyLimit(api.config().limits().maxJsonBodyBytes());
    ContractValidator validator = new ContractValidator(vertx, contract);
    RequestExtractor extractor = RequestExtractor.withBodyHandler();
    Handler<RoutingContext> rateLimit = this::rateLimit;
    ErrorHandler errors = new ErrorHandler();
    String contractJson = contract.getRawContract().encode();
    Map<String, Handler<RoutingContext>> handlers = handlers();
    handlers.put("getContract", ctx -> ctx.response().putHeader("Content-Type", "application/json")
        .end(contractJson));
    String docsPage = docsPage();
    handlers.put("getApiDocs", ctx -> ctx.response().putHeader("Content-Type", "text/html; charset=utf-8")
        .end(docsPage));
    for (OpenAPIRoute route : builder.getRoutes()) {
      Operation operation = route.getOperation();
      String op = operation.getOperationId();
      Handler<RoutingContext> handler = handlers.remove(op);
      if (handler == null) {
        throw new IllegalStateException("no handler for operation " + op);
      }
      // security and validation are this route's own handlers, in this order, so that the key is checked first
      route.setDoSecurity(false).setDoValidation(false);
      route.addHandler(auth.forOperation(operation.getOpenAPIModel()));
      if (STREAMED_OPERATIONS.contains(op)) {
        route.addHandler(handler);
      } else {
        route.addHandler(json::handle).addHandler(validate(validator, extractor, operation)).addHandler(rateLimit)
            .addHandler(handler);
      }
      route.addFailureHandler(errors);
    }
    if (!handlers.isEmpty()) {
      throw new IllegalStateException("handlers for operations the contract does not have: " + handlers.keySet());
    }
    Router router = builder.createRouter();
    // the web UI: static files from the jar, after every API route
    router.route(HttpMethod.GET, "/*").handler(StaticHandler.create("webroot").setCachingEnabled(false)
        .setIndexPage("index.html"));
    router.errorHandler(404, ctx -> ErrorHandler.send(ctx, ErrorHandler.byStatus(404, null)));
    // the UI's GET /* matches every path, so the router answers 405 to any other method on any path: only a path
    // of the contract has methods to not allow
    router.errorHandler(405, ctx -> ErrorHandler.send(ctx, ErrorHandler.byStatus(
        contract.findPath(ctx.normalizedPath()) != null ? 405 : 404, null)));
    router.errorHandler(400, ctx -> ErrorHandler.send(ctx, ErrorHandler.toApiError(ctx)));
    router.errorHandler(413, ctx -> ErrorHandler.send(ctx, ErrorHandler.byStatus(413, null)));
    router.errorHandler(500, errors);
    return router;
  }

  @Override
  public Future<?> stop() {
    if (sweeper != null) { // only the node's first instance sweeps
      sweeper.stop();
      retention.stop();
    }
    node.streams.remove(streams);
    return streams.stop();
  }

  /**
   * Retention of ended jobs and unused uploads (its timer runs when retention_days is above 0); null on every instance
   * but the node's first.
   */
  public RetentionSweeper retention() {
    return retention;
  }

  /** The API page (it renders the contract in the browser, from the same origin). */
  private static String docsPage() {
    try (java.io.InputStream in = ApiVerticle.class.getResourceAsStream("/webroot/api-docs.html")) {
      if (in == null) {
        throw new IllegalStateException("webroot/api-docs.html is not in the jar");
      }
      return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Validates the request against the operation in the contract, as the router builder would. */
  private static Handler<RoutingContext> validate(ContractValidator validator, RequestExtractor extractor,
                                                  Operation operation) {
    return ctx -> extract(extractor, ctx, operation)
        .compose(request -> validator.validate(request, operation.getOperationId(),
            ctx.body() == null || ctx.body().length() <= INLINE_VALIDATION_BYTES))
        .onSuccess(validated -> {
          ctx.put(RouterBuilder.KEY_META_DATA_VALIDATED_REQUEST, validated);
          ctx.next();
        })
        .onFailure(e -> ctx.fail(e instanceof ValidatorException ? new HttpException(400, e.getMessage(), e) : e));
  }

  /**
   * The request's parameters and body as the validator reads them. The extractor throws (instead of failing its
   * future) on a query value that is not valid percent-encoding, such as {@code %ȡ}: that is the client's error.
   */
  private static Future<io.vertx.openapi.validation.ValidatableRequest> extract(RequestExtractor extractor,
                                                                                RoutingContext ctx,
                                                                                Operation operation) {
    try {
      return extractor.extractValidatableRequest(ctx, operation);
    } catch (ValidatorException | IllegalArgumentException e) {
      return Future.failedFuture(ApiError.badRequest("query", "a query value cannot be decoded: " + e.getMessage()));
    }
  }

  /** The caller's tenant's token bucket, shared across the cluster; callers without a key have none. */
  private void rateLimit(RoutingContext ctx) {
    Caller caller = Caller.of(ctx);
    if (caller == null) {
      ctx.next();
      return;
    }
    rates.acquire(caller.tenant()).onSuccess(wait -> {
      if (wait > 0) {
        ctx.fail(ApiError.tooManyRequests(null, "tenant '" + caller.tenant() + "' is over its rate limit; retry after "
            + wait + " s", wait));
      } else {
        ctx.next();
      }
    }).onFailure(ctx::fail);
  }

  /** The rate limit for handlers that read their body themselves (uploads): after the key check, before the body. */
  Future<Void> rateLimit(Caller caller) {
    if (caller == null) {
      return Future.succeededFuture();
    }
    return rates.acquire(caller.tenant()).compose(wait -> wait == 0 ? Future.succeededFuture()
        : Future.failedFuture(ApiError.tooManyRequests(null, "tenant '" + caller.tenant() + "' is over its rate "
            + "limit; retry after " + wait + " s", wait)));
  }

  /** Open connections on this node (for tests). */
  public int openConnections() {
    return connections.open();
  }

  public int port() {
    return server.actualPort();
  }

  public EventStreams streams() {
    return streams;
  }

  /**
   * A request the HTTP decoder refused (request line or headers too long, malformed): answered in the JSON error
   * shape like every other error, logged, and the connection is closed.
   */
  void invalidRequest(io.vertx.core.http.HttpServerRequest request) {
    Throwable cause = request.decoderResult().cause();
    if (cause instanceof io.netty.handler.codec.PrematureChannelClosureException) {
      return; // the connection closed halfway through a request (a header timeout, a client gone): nobody to answer
    }
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
    LOG.info("{} (invalid request) {} rid=-", request.method(), status);
  }

  /** {@code POST /api/v1/stream-tokens}: a read-only token for event streams, for the calling key. */
  private void streamToken(RoutingContext ctx) {
    Caller key = Caller.of(ctx);
    if (key == null) {
      throw new ApiError(404, "not_found", "authentication is off: event streams need no token", List.of(), null);
    }
    long now = System.currentTimeMillis() / 1000;
    ctx.response().setStatusCode(201).putHeader("Cache-Control", "no-store");
    Http.json(ctx, new JsonObject()
        .put("token", tokens.issue(key.keyName(), key.tenant(), now))
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
   * One log line per request, written when the exchange ends, with the status actually sent ({@code -} when the
   * connection closed before any answer), its correlation id (X-Request-Id, taken from the client or made here), the
   * key's name and, where the route names a job, the job id (also in the MDC as {@code job}, printed by logback).
   */
  private final class RequestLog implements io.vertx.ext.web.handler.PlatformHandler {
    private static final Pattern SAFE_ID = Pattern.compile("[\\w.:-]{1,100}");

    @Override
    public void handle(RoutingContext ctx) {
      long start = System.nanoTime();
      String id = ctx.request().getHeader("X-Request-Id");
      // a client's id is echoed into logs and headers: only a plain token, never line breaks or markup
      String rid = id == null || !SAFE_ID.matcher(id).matches() ? UUID.randomUUID().toString() : id;
      ctx.put("request_id", rid);
      ctx.response().putHeader("X-Request-Id", rid);
      ctx.addEndHandler(ar -> {
        Caller caller = Caller.of(ctx);
        String who = caller == null ? "" : " key=" + caller.keyName();
        String jobId = ctx.pathParam("inference_job_id");
        if (jobId != null && !jobId.chars().allMatch(Character::isDigit)) {
          jobId = null;
        }
        String status = !ctx.response().headWritten() ? "-"
            : ctx.response().getStatusCode() + (ar.succeeded() ? "" : " (closed before the end)");
        if (jobId != null) {
          MDC.put("job", jobId);
        }
        LOG.info("{} {} {} {} ms rid={}{}{}", ctx.request().method(), ctx.request().path(), status,
            String.format("%.1f", (System.nanoTime() - start) / 1e6), rid, who, jobId == null ? "" : " job=" + jobId);
        MDC.remove("job");
      });
      ctx.next();
    }
  }

  /**
   * One spelling per resource: a path that the router would normalise ({@code //}, {@code .} or {@code ..} segments,
   * percent-encoded letters), that holds any percent-escape (no path of this API needs one: ids are numbers, so an
   * escaped slash can only smuggle a segment into a parameter) or that ends with a slash is answered 404 before
   * anything else, as a path the contract does not have. The router and the contract validator therefore always read the same path, and a route is only
   * ever reached by the path the contract names.
   */
  private static final class CanonicalPath implements io.vertx.ext.web.handler.PlatformHandler {
    @Override
    public void handle(RoutingContext ctx) {
      String raw = ctx.request().path();
      if (raw == null || !raw.equals(ctx.normalizedPath()) || (raw.length() > 1 && raw.endsWith("/"))
          || raw.indexOf('%') >= 0) {
        ErrorHandler.send(ctx, new ApiError(404, "not_found", "no such resource: paths are matched exactly (no '//', "
            + "'.' or '..' segments, percent-escapes or trailing '/')", List.of(), null));
        return;
      }
      String query = ctx.request().query();
      if (query != null && !validEscapes(query)) {
        // read before anything parses the query: every reader of it (key check, validator) would throw otherwise
        ErrorHandler.send(ctx, ApiError.badRequest("query", "the query string is not valid percent-encoding: each "
            + "'%' must be followed by two hex digits"));
        return;
      }
      ctx.next();
    }

    static boolean validEscapes(String s) {
      for (int i = s.indexOf('%'); i >= 0; i = s.indexOf('%', i + 1)) {
        if (i + 2 >= s.length() || Character.digit(s.charAt(i + 1), 16) < 0
            || Character.digit(s.charAt(i + 2), 16) < 0) {
          return false;
        }
        i += 2;
      }
      return true;
    }
  }

  /** Headers every answer carries: no MIME sniffing, no framing, no referrer, and the page's content policy. */
  private static final class SecurityHeaders implements io.vertx.ext.web.handler.PlatformHandler {
    @Override
    public void handle(RoutingContext ctx) {
      ctx.response().headers()
          .set("X-Content-Type-Options", "nosniff")
          .set("X-Frame-Options", "DENY")
          .set("Referrer-Policy", "no-referrer")
          .set("Cross-Origin-Opener-Policy", "same-origin")
          .set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
      ctx.next();
    }
  }
}
