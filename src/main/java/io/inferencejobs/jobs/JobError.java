package io.inferencejobs.jobs;

/**
 * A request the application layer refuses, with the field at fault and the reason: the API maps its kind to an HTTP
 * status in one place ({@code api.ErrorHandler}); nothing here knows HTTP.
 */
public final class JobError extends RuntimeException {
  public enum Kind { INVALID, FORBIDDEN, NOT_FOUND, CONFLICT, UNPROCESSABLE, TOO_MANY, UNAVAILABLE }

  private final Kind kind;
  private final String field;
  private final Integer retryAfterSeconds;

  private JobError(Kind kind, String field, String reason, Integer retryAfterSeconds) {
    super(reason, null, false, false);
    this.kind = kind;
    this.field = field;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  public static JobError invalid(String field, String reason) {
    return new JobError(Kind.INVALID, field, reason, null);
  }

  public static JobError forbidden(String field, String reason) {
    return new JobError(Kind.FORBIDDEN, field, reason, null);
  }

  public static JobError notFound(String field, String reason) {
    return new JobError(Kind.NOT_FOUND, field, reason, null);
  }

  public static JobError conflict(String field, String reason) {
    return new JobError(Kind.CONFLICT, field, reason, null);
  }

  public static JobError unprocessable(String field, String reason) {
    return new JobError(Kind.UNPROCESSABLE, field, reason, null);
  }

  public static JobError tooMany(String reason, int retryAfterSeconds) {
    return new JobError(Kind.TOO_MANY, null, reason, retryAfterSeconds);
  }

  public Kind kind() {
    return kind;
  }

  /** The request field at fault, or null. */
  public String field() {
    return field;
  }

  public Integer retryAfterSeconds() {
    return retryAfterSeconds;
  }
}
