package io.inferencejobs.api;

import io.inferencejobs.jobs.JobError;
import io.inferencejobs.support.BoundedExecutor;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.HttpException;
import io.vertx.json.schema.OutputUnit;
import io.vertx.openapi.validation.SchemaValidationException;
import io.vertx.openapi.validation.ValidatorException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The one place where failures become HTTP answers, always in the JSON error shape. */
public final class ErrorHandler implements Handler<RoutingContext> {
  private static final Logger LOG = LoggerFactory.getLogger(ErrorHandler.class);
  private static final Pattern PARAM = Pattern.compile("(query|path|header|cookie) parameter ([\\w-]+)");
  private static final Pattern REQUIRED = Pattern.compile("required propert(?:y|ies) \"?([\\w-]+)");

  @Override
  public void handle(RoutingContext ctx) {
    ApiError error = toApiError(ctx);
    if (ctx.response().headWritten()) {
      ctx.response().reset();
      return;
    }
    if (error.status() >= 500 && error.retryAfterSeconds() == null) {
      LOG.error("{} {} failed", ctx.request().method(), ctx.request().path(), ctx.failure());
    }
    reply(ctx, error);
  }

  /** Sends the error with its headers (Retry-After, WWW-Authenticate). */
  public static void reply(RoutingContext ctx, ApiError error) {
    if (error.retryAfterSeconds() != null) {
      ctx.response().putHeader("Retry-After", Integer.toString(error.retryAfterSeconds()));
    }
    error.headers().forEach(ctx.response()::putHeader);
    send(ctx, error);
  }

  /** Up to this much of a refused request's body is read and dropped, so that the client sees the answer. */
  static final long DRAIN_BYTES = 1024 * 1024;

  /**
   * Sends the error. A request refused before its body has arrived (a handler paused it to check first, or stopped
   * reading it) is drained, up to {@link #DRAIN_BYTES} more, before the answer goes out: a client still sending would
   * otherwise miss the answer, and the connection could not carry its next request. A longer rest (by its
   * Content-Length, or once a chunked body passes the bound) is not read: the answer goes out and the connection
   * closes, as Vert.x would otherwise read the whole body, however long.
   */
  public static void send(RoutingContext ctx, ApiError error) {
    io.vertx.core.http.HttpServerRequest request = ctx.request();
    if (request.isEnded()) {
      write(ctx, error, false);
      return;
    }
    String length = request.getHeader("Content-Length");
    long remaining;
    try {
      remaining = length == null ? -1 : Long.parseLong(length.trim()) - request.bytesRead();
    } catch (NumberFormatException e) {
      remaining = Long.MAX_VALUE;
    }
    if (remaining > DRAIN_BYTES) {
      write(ctx, error, true);
      return;
    }
    long start = request.bytesRead();
    request.handler(chunk -> {
      if (request.bytesRead() - start > DRAIN_BYTES) {
        write(ctx, error, true);
      }
    });
    request.resume();
    request.end().onComplete(ar -> write(ctx, error, ar.failed()));
  }

  private static void write(RoutingContext ctx, ApiError error, boolean close) {
    if (ctx.response().ended() || ctx.response().closed()) {
      return;
    }
    if (close) {
      ctx.response().putHeader("Connection", "close");
    }
    ctx.response().setStatusCode(error.status()).putHeader("Content-Type", "application/json")
        .end(error.toJson().encode())
        .onComplete(ar -> {
          if (close) {
            ctx.request().connection().close();
          }
        });
  }

  /**
   * Whether the failure is a dependency out of reach: a refused or closed connection anywhere in its causes, or
   * PostgreSQL saying it cannot serve (SQLSTATE class 08, connection exception, or 57P01 to 57P03, shutting down
   * or starting). The request was fine; it may be sent again.
   */
  static boolean dependencyDown(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof java.net.ConnectException || t instanceof java.nio.channels.ClosedChannelException
          || t instanceof io.vertx.sqlclient.ClosedConnectionException) {
        return true;
      }
      if (t instanceof io.vertx.pgclient.PgException pg && pg.getSqlState() != null
          && (pg.getSqlState().startsWith("08") || pg.getSqlState().matches("57P0[123]"))) {
        return true;
      }
    }
    return false;
  }

  static ApiError toApiError(RoutingContext ctx) {
    Throwable failure = ctx.failure();
    if (failure instanceof ApiError e) {
      return e;
    }
    if (failure instanceof io.netty.handler.codec.DecoderException
        || failure != null && fromBodyDecoder(failure)) {
      // a form or multipart body Netty cannot decode (too long a field, a part without a name, bad encoding)
      return ApiError.badRequest("body", "malformed request body (" + failure.getClass().getSimpleName() + ")");
    }
    if (failure instanceof io.vertx.pgclient.PgException pg && pg.getSqlState() != null
        && pg.getSqlState().startsWith("22")) {
      // a data exception (a value PostgreSQL cannot store): the request's fault, whatever check missed it
      return ApiError.badRequest("body", "a value cannot be stored: " + pg.getErrorMessage());
    }
    if (failure instanceof JobError e) {
      return fromDomain(e);
    }
    if (failure instanceof BoundedExecutor.Overloaded o) {
      return ApiError.unavailable(o.getMessage() + "; retry later", 2);
    }
    if (failure instanceof io.vertx.core.http.ConnectionPoolTooBusyException) {
      return ApiError.unavailable("the database connection pool is busy; retry later", 2);
    }
    if (dependencyDown(failure)) {
      return ApiError.unavailable("a service this request needs (PostgreSQL or S3) cannot be reached; retry later", 5);
    }
    if (failure instanceof HttpException http) {
      if (http.getCause() instanceof ValidatorException v) {
        return fromValidator(v);
      }
      return byStatus(http.getStatusCode(), http.getPayload());
    }
    if (failure == null) {
      return byStatus(ctx.statusCode(), null);
    }
    return new ApiError(500, "internal_error", "internal error; see the server log", List.of(), null);
  }

  /** A refusal of the application layer, as HTTP: its kind is the status. */
  static ApiError fromDomain(JobError e) {
    String field = e.field();
    return switch (e.kind()) {
      case INVALID -> ApiError.badRequest(field == null ? "body" : field, e.getMessage());
      case FORBIDDEN -> ApiError.forbidden(field, e.getMessage());
      case NOT_FOUND -> ApiError.notFound(field, e.getMessage());
      case CONFLICT -> ApiError.conflict(field, e.getMessage());
      case UNPROCESSABLE -> ApiError.unprocessable(field, e.getMessage());
      case TOO_MANY -> ApiError.tooManyRequests(field, e.getMessage(),
          e.retryAfterSeconds() == null ? 1 : e.retryAfterSeconds());
      case UNAVAILABLE -> ApiError.unavailable(e.getMessage(), e.retryAfterSeconds() == null ? 2
          : e.retryAfterSeconds());
    };
  }

  /** Netty's multipart decoder also throws plain IllegalArgumentExceptions on malformed parts (an empty name). */
  private static boolean fromBodyDecoder(Throwable failure) {
    StackTraceElement[] trace = failure.getStackTrace();
    for (int i = 0; i < Math.min(trace.length, 12); i++) {
      if (trace[i].getClassName().startsWith("io.netty.handler.codec.http.multipart.")) {
        return true;
      }
    }
    return false;
  }

  static ApiError byStatus(int status, String payload) {
    return switch (status) {
      case 400 -> ApiError.badRequest("request", payload == null ? "malformed request" : payload);
      case 404 -> new ApiError(404, "not_found", "no such resource", List.of(), null);
      case 405 -> new ApiError(405, "method_not_allowed", "method not allowed on this path", List.of(), null);
      case 413 -> ApiError.tooLarge("body", "request body too large");
      case 415 -> ApiError.unsupportedMedia("Content-Type", "unsupported content type");
      default -> new ApiError(status <= 0 ? 500 : status, status >= 500 ? "internal_error" : "error",
          payload == null ? "request failed" : payload, List.of(), null);
    };
  }

  /** Names the field and the reason from the contract validator's failure. */
  static ApiError fromValidator(ValidatorException v) {
    List<ApiError.Detail> details = new ArrayList<>();
    Matcher param = PARAM.matcher(v.getMessage());
    String paramName = param.find() ? param.group(2) : null;
    if (v instanceof SchemaValidationException s && s.getOutputUnit() != null) {
      for (OutputUnit unit : leaves(s.getOutputUnit())) {
        String field = paramName != null ? paramName : pointerToField(unit.getInstanceLocation());
        String reason = unit.getError() == null ? "invalid value" : unit.getError();
        Matcher req = REQUIRED.matcher(reason);
        if (paramName == null && req.find()) {
          field = field.isEmpty() ? req.group(1) : field + "." + req.group(1);
          reason = "is required";
        }
        details.add(new ApiError.Detail(field.isEmpty() ? "body" : field, reason));
      }
    }
    if (details.isEmpty()) {
      details.add(new ApiError.Detail(paramName != null ? paramName : "body", v.getMessage()));
    }
    return ApiError.badRequest(dedupe(details));
  }

  private static List<OutputUnit> leaves(OutputUnit root) {
    List<OutputUnit> out = new ArrayList<>();
    if (root.getErrors() != null) {
      for (OutputUnit u : root.getErrors()) {
        if (u.getError() != null) {
          out.add(u);
        }
      }
    }
    if (out.isEmpty() && root.getError() != null) {
      out.add(root);
    }
    return out;
  }

  /** Keeps the specific reasons: drops the validator's wrapper lines ("does not match schema") and repeats. */
  private static List<ApiError.Detail> dedupe(List<ApiError.Detail> details) {
    List<ApiError.Detail> out = new ArrayList<>();
    for (ApiError.Detail d : details) {
      boolean wrapper = WRAPPER.matcher(d.reason()).find();
      if (!wrapper && !out.contains(d)) {
        out.add(d);
      }
    }
    // an unknown property: the validator only says it "does not match additional properties schema", on that
    // property and again on every object around it; the deepest one is the misspelt field
    for (ApiError.Detail d : details) {
      if (UNKNOWN.matcher(d.reason()).find()
          && details.stream().noneMatch(o -> isInside(o.field(), d.field()))
          && out.stream().noneMatch(o -> o.field().equals(d.field()))) {
        out.add(new ApiError.Detail(d.field(), "is not a field of this object: unknown fields are refused"));
      }
    }
    return out.isEmpty() ? details.subList(0, Math.min(1, details.size())) : out;
  }

  private static boolean isInside(String field, String parent) {
    return field.length() > parent.length() && field.startsWith(parent)
        && (field.charAt(parent.length()) == '.' || field.charAt(parent.length()) == '[');
  }

  private static final Pattern UNKNOWN = Pattern.compile("^Property \".*\" does not match additional properties");

  private static final Pattern WRAPPER = Pattern.compile(
      "^(Property \".*\" does not match (schema|additional properties schema|unevaluated properties schema)"
          + "|A subschema had errors|Instance does not match \"(else|then)\" schema)");

  /** {@code #/input_data/confidence_threshold} becomes {@code input_data.confidence_threshold}. */
  static String pointerToField(String pointer) {
    if (pointer == null) {
      return "";
    }
    String p = pointer.startsWith("#") ? pointer.substring(1) : pointer;
    if (p.startsWith("/")) {
      p = p.substring(1);
    }
    StringBuilder sb = new StringBuilder();
    for (String seg : p.split("/")) {
      if (seg.isEmpty()) {
        continue;
      }
      if (seg.chars().allMatch(Character::isDigit)) {
        sb.append('[').append(seg).append(']');
      } else {
        if (sb.length() > 0) {
          sb.append('.');
        }
        sb.append(seg.replace("~1", "/").replace("~0", "~"));
      }
    }
    return sb.toString();
  }
}
