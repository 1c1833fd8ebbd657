package io.inferencejobs.api;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.openapi.contract.OpenAPIContract;
import io.vertx.openapi.validation.RequestParameter;
import io.vertx.openapi.validation.ValidatedRequest;
import io.vertx.openapi.validation.ValidatorException;
import io.vertx.openapi.validation.impl.RequestParameterImpl;
import io.vertx.openapi.validation.impl.ValidatableRequestImpl;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The contract validator answers as the library's does, on the event loop and on the worker pool, and builds one
 * schema validator per schema however many requests it checks.
 */
class ContractValidatorTest {
  static Vertx vertx;
  static OpenAPIContract contract;

  @BeforeAll
  static void load() throws Exception {
    vertx = Vertx.vertx();
    contract = OpenAPIContract.from(vertx, ApiVerticle.CONTRACT).await(30, TimeUnit.SECONDS);
  }

  @AfterAll
  static void close() throws Exception {
    vertx.close().await(30, TimeUnit.SECONDS);
  }

  static ValidatableRequestImpl create(JsonObject body) {
    return new ValidatableRequestImpl(Map.of(), Map.of(), Map.of(), Map.of(),
        new RequestParameterImpl(Buffer.buffer(body.encode())), "application/json");
  }

  static JsonObject job(Object confidence) {
    return new JsonObject().put("training_job_id", 1).put("checkpoint_path", "pretrained")
        .put("inference_type", "batch").put("input_data", new JsonObject()
            .put("image_uris", new JsonArray().add("s3://inference-jobs/a.jpg"))
            .put("confidence_threshold", confidence));
  }

  @Test
  void answersAsTheLibraryDoesInlineAndOnTheWorkerPoolAndKeepsOneValidatorPerSchema() throws Exception {
    ContractValidator mine = new ContractValidator(vertx, contract);
    io.vertx.openapi.validation.RequestValidator library =
        io.vertx.openapi.validation.RequestValidator.create(vertx, contract);
    for (boolean inline : new boolean[] {true, false}) {
      ValidatedRequest ok = mine.validate(create(job(0.5)), "createInferenceJob", inline)
          .await(10, TimeUnit.SECONDS);
      RequestParameter body = ok.getBody();
      assertThat(body.getJsonObject().getJsonObject("input_data").getDouble("confidence_threshold")).isEqualTo(0.5);
      String theirs = messageOf(() -> library.validate(create(job(1.5)), "createInferenceJob")
          .await(10, TimeUnit.SECONDS));
      String ours = messageOf(() -> mine.validate(create(job(1.5)), "createInferenceJob", inline)
          .await(10, TimeUnit.SECONDS));
      assertThat(ours).isNotBlank().isEqualTo(theirs);
    }
    int afterFirst = mine.cachedValidators();
    assertThat(afterFirst).isPositive();
    for (int i = 0; i < 200; i++) {
      mine.validate(create(job(i % 2 == 0 ? 0.5 : 1.5)), "createInferenceJob", true);
    }
    assertThat(mine.cachedValidators()).isEqualTo(afterFirst);
    assertThatThrownBy(() -> mine.validate(create(job(0.5)), "noSuchOperation", true).await(10, TimeUnit.SECONDS))
        .isInstanceOf(ValidatorException.class);
  }

  private static String messageOf(ThrowingRunnable r) {
    try {
      r.run();
    } catch (Exception e) {
      return e.getClass().getName() + ": " + e.getMessage();
    }
    return null;
  }

  private interface ThrowingRunnable {
    void run() throws Exception;
  }
}
