package io.inferencejobs.api;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;

/**
 * An expected failure with its HTTP status, a stable code, a message and the fields at fault. Rendered once, by
 * {@link ErrorHandler}, as {@code {"error": {"code", "message", "details": [{"field", "reason"}]}}}.
 */
public final class ApiError extends RuntimeException {
  private final int status;
  private final String code;
  private final List<Detail> details;
  private final Integer retryAfterSeconds;
  private final java.util.Map<String, String> headers = new java.util.LinkedHashMap<>();

  public record Detail(String field, String reason) {
    JsonObject toJson() {
      return new JsonObject().put("field", field).put("reason", reason);
    }
  }

  public ApiError(int status, String code, String message, List<Detail> details, Integer retryAfterSeconds) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
    this.details = List.copyOf(details);
    this.retryAfterSeconds = retryAfterSeconds;
  }

  public static ApiError badRequest(String field, String reason) {
    return new ApiError(400, "validation_failed", field + ": " + reason, List.of(new Detail(field, reason)), null);
  }

  public static ApiError badRequest(List<Detail> details) {
    String msg = details.isEmpty() ? "invalid request"
        : details.get(0).field() + ": " + details.get(0).reason() + (details.size() > 1 ? " (and more)" : "");
    return new ApiError(400, "validation_failed", msg, details, null);
  }

  public static ApiError notFound(String field, String what) {
    return new ApiError(404, "not_found", what, field == null ? List.of() : List.of(new Detail(field, what)), null);
  }

  public static ApiError conflict(String field, String reason) {
    return new ApiError(409, "conflict", reason, field == null ? List.of() : List.of(new Detail(field, reason)), null);
  }

  public static ApiError unprocessable(String field, String reason) {
    return new ApiError(422, "unprocessable", field + ": " + reason, List.of(new Detail(field, reason)), null);
  }

  public static ApiError unsupportedMedia(String field, String reason) {
    return new ApiError(415, "unsupported_media_type", reason, List.of(new Detail(field, reason)), null);
  }

  public static ApiError tooLarge(String field, String reason) {
    return new ApiError(413, "payload_too_large", reason, List.of(new Detail(field, reason)), null);
  }

  public static ApiError unavailable(String reason, int retryAfterSeconds) {
    return new ApiError(503, "unavailable", reason, List.of(), retryAfterSeconds);
  }

  /** An extra response header (WWW-Authenticate on a 401). */
  public ApiError withHeader(String name, String value) {
    headers.put(name, value);
    return this;
  }

  public java.util.Map<String, String> headers() {
    return headers;
  }

  public static ApiError tooManyRequests(String field, String reason, int retryAfterSeconds) {
    return new ApiError(429, "too_many_requests", reason, field == null ? List.of() : List.of(new Detail(field, reason)),
        retryAfterSeconds);
  }

  public static ApiError forbidden(String field, String reason) {
    return new ApiError(403, "forbidden", field + ": " + reason, List.of(new Detail(field, reason)), null);
  }

  public int status() {
    return status;
  }

  public String code() {
    return code;
  }

  public List<Detail> details() {
    return details;
  }

  public Integer retryAfterSeconds() {
    return retryAfterSeconds;
  }

  public JsonObject toJson() {
    JsonArray d = new JsonArray();
    details.forEach(x -> d.add(x.toJson()));
    return new JsonObject().put("error", new JsonObject().put("code", code).put("message", getMessage())
        .put("details", d));
  }
}
