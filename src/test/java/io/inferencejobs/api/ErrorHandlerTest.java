package io.inferencejobs.api;

import io.inferencejobs.jobs.JobError;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The application layer's refusals become HTTP answers in one place, each kind its status, the field kept. */
class ErrorHandlerTest {
  @Test
  void everyKindOfRefusalHasItsStatus() {
    Map<JobError, Integer> expected = Map.of(
        JobError.invalid("input_data", "bad"), 400,
        JobError.forbidden("checkpoint_path", "admin only"), 403,
        JobError.notFound("inference_job_id", "no such job"), 404,
        JobError.conflict("Idempotency-Key", "other body"), 409,
        JobError.unprocessable("checkpoint_path", "missing"), 422,
        JobError.tooMany("too many active jobs", 10), 429);
    expected.forEach((error, status) -> {
      ApiError api = ErrorHandler.fromDomain(error);
      assertThat(api.status()).as(error.kind().name()).isEqualTo(status);
      assertThat(api.details()).as(error.kind().name()).allMatch(d -> d.field().equals(error.field()));
      assertThat(api.toJson().getJsonObject("error").getString("message")).contains(error.getMessage());
    });
    assertThat(ErrorHandler.fromDomain(JobError.tooMany("slow down", 10)).retryAfterSeconds()).isEqualTo(10);
    // every kind is mapped (a new kind without a status would not compile: the switch is exhaustive)
    assertThat(JobError.Kind.values()).hasSize(expected.size() + 1);
  }

  @Test
  void aDependencyOutOfReachIsToldFromOtherFailures() {
    assertThat(ErrorHandler.dependencyDown(new RuntimeException("wrapped", new java.net.ConnectException("refused"))))
        .isTrue();
    assertThat(ErrorHandler.dependencyDown(new io.vertx.pgclient.PgException("the database system is shutting down",
        "FATAL", "57P01", null))).isTrue();
    assertThat(ErrorHandler.dependencyDown(new io.vertx.pgclient.PgException("connection failure", "FATAL", "08006",
        null))).isTrue();
    assertThat(ErrorHandler.dependencyDown(new io.vertx.pgclient.PgException("duplicate key", "ERROR", "23505",
        null))).isFalse();
    assertThat(ErrorHandler.dependencyDown(new IllegalStateException("a bug"))).isFalse();
    assertThat(ErrorHandler.dependencyDown(null)).isFalse();
  }

  @Test
  void anUnknownFieldInsideAnObjectIsNamedWithItsPath() {
    io.vertx.core.json.JsonObject schema = new io.vertx.core.json.JsonObject()
        .put("type", "object").put("additionalProperties", false)
        .put("properties", new io.vertx.core.json.JsonObject().put("input_data", new io.vertx.core.json.JsonObject()
            .put("type", "object").put("additionalProperties", false)
            .put("properties", new io.vertx.core.json.JsonObject().put("confidence_threshold",
                new io.vertx.core.json.JsonObject().put("type", "number")))));
    io.vertx.json.schema.OutputUnit unit = io.vertx.json.schema.Validator.create(
        io.vertx.json.schema.JsonSchema.of(schema),
        new io.vertx.json.schema.JsonSchemaOptions().setDraft(io.vertx.json.schema.Draft.DRAFT202012)
            .setBaseUri("app://").setOutputFormat(io.vertx.json.schema.OutputFormat.Basic))
        .validate(new io.vertx.core.json.JsonObject().put("input_data",
            new io.vertx.core.json.JsonObject().put("confidence_treshold", 0.9)));
    ApiError api = ErrorHandler.fromValidator(new io.vertx.openapi.validation.SchemaValidationException(
        "The formatting of the value of the request body does not match schema", 
        io.vertx.openapi.validation.ValidatorErrorType.INVALID_VALUE, unit, null));
    assertThat(api.details()).extracting(ApiError.Detail::field).containsExactly("input_data.confidence_treshold");
    assertThat(api.details().get(0).reason()).contains("unknown field");
  }
}
