package io.inferencejobs.api;

import io.inferencejobs.config.AppConfig;
import io.inferencejobs.config.ConfigLoader;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.Router;
import io.vertx.openapi.contract.OpenAPIContract;
import io.vertx.openapi.contract.Operation;
import io.vertx.openapi.contract.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The contract is the only source of routes: every operation is routed exactly once, every handler belongs to an
 * operation, and no path repeats a segment (the old platform served /test_inference/test_inference/...).
 */
class ApiRoutingTest {
  static Vertx vertx;
  static OpenAPIContract contract;
  static Router router;

  @BeforeAll
  static void build() throws Exception {
    vertx = Vertx.vertx();
    contract = OpenAPIContract.from(vertx, ApiVerticle.CONTRACT).await(30, TimeUnit.SECONDS);
    AppConfig config = ConfigLoader.load(Map.of("DATA_DIR", "target/routing-test"));
    ApiVerticle verticle = new ApiVerticle(new ApiContext(config, null, null, null, null, null, null, null, null));
    verticle.init(vertx, vertx.getOrCreateContext());
    router = verticle.router(contract);
  }

  @AfterAll
  static void close() throws Exception {
    vertx.close().await(30, TimeUnit.SECONDS);
  }

  static String vertxPath(String openApiPath) {
    return openApiPath.replaceAll("\\{(.*?)}", ":$1");
  }

  @Test
  void everyOperationIsRoutedExactlyOnce() {
    Map<String, Integer> routed = new HashMap<>();
    for (Route r : router.getRoutes()) {
      if (r.getPath() == null || r.methods() == null || "/".equals(r.getPath())) {
        continue; // the root handlers (logging, auth, body) and the UI's static files (GET /*)
      }
      for (var m : r.methods()) {
        routed.merge(m.name() + " " + r.getPath(), 1, Integer::sum);
      }
    }
    List<String> expected = new ArrayList<>();
    for (Path p : contract.getPaths()) {
      for (Operation op : p.getOperations()) {
        expected.add(op.getHttpMethod().name() + " " + vertxPath(p.getName()));
      }
    }
    assertThat(expected).hasSize(contract.operations().size()).doesNotHaveDuplicates();
    assertThat(routed).containsOnlyKeys(expected);
    routed.forEach((route, count) -> assertThat(count).as(route).isEqualTo(1));
  }

  @Test
  void noPathRepeatsASegment() {
    for (Path p : contract.getPaths()) {
      String[] segments = p.getName().substring(1).split("/");
      for (int i = 1; i < segments.length; i++) {
        assertThat(segments[i]).as(p.getName()).isNotEqualTo(segments[i - 1]);
      }
      assertThat(p.getName()).as(p.getName()).doesNotContain("test_inference/test_inference");
    }
  }

  @Test
  void theJobListAndTheJobDetailAreDistinctRoutes() {
    List<String> paths = contract.getPaths().stream().map(Path::getName).toList();
    assertThat(paths).contains("/api/v1/test_inference/inference/jobs",
        "/api/v1/test_inference/inference/jobs/{inference_job_id}");
    long gets = contract.getPaths().stream().filter(p -> p.getName().equals("/api/v1/test_inference/inference/jobs"))
        .flatMap(p -> p.getOperations().stream()).filter(o -> o.getHttpMethod().name().equals("GET")).count();
    assertThat(gets).isEqualTo(1);
  }

  @Test
  void everyHandlerBelongsToAnOperation() {
    List<String> ops = contract.operations().stream().map(Operation::getOperationId).toList();
    ApiVerticle verticle = new ApiVerticle(new ApiContext(ConfigLoader.load(Map.of()), null, null, null, null, null,
        null, null, null));
    verticle.init(vertx, vertx.getOrCreateContext());
    assertThat(ops).containsAll(verticle.handlers().keySet());
  }

  @Test
  void theContractStatesTheSettingsDefaultsTheServiceFillsIn() {
    io.vertx.core.json.JsonObject input = contract.getRawContract().getJsonObject("components")
        .getJsonObject("schemas").getJsonObject("InferenceJobRequest").getJsonObject("properties")
        .getJsonObject("input_data").getJsonObject("properties");
    var defaults = io.inferencejobs.jobs.InferenceSettings.DEFAULTS;
    assertThat(input.getJsonObject("confidence_threshold").getDouble("default"))
        .isEqualTo(defaults.confidenceThreshold());
    assertThat(input.getJsonObject("iou_threshold").getDouble("default")).isEqualTo(defaults.iouThreshold());
    assertThat(input.getJsonObject("max_detections").getInteger("default")).isEqualTo(defaults.maxDetections());
    assertThat(input.getJsonObject("agnostic_nms").getBoolean("default")).isEqualTo(defaults.agnosticNms());
    // and what a job stores when the request leaves them out
    io.vertx.core.json.JsonObject stored = io.inferencejobs.jobs.InferenceSettings.withDefaults(
        new io.vertx.core.json.JsonObject().put("image_uris", new io.vertx.core.json.JsonArray().add("s3://b/x.jpg")));
    for (String field : List.of("confidence_threshold", "iou_threshold", "max_detections", "agnostic_nms")) {
      assertThat(stored.getValue(field)).as(field).isEqualTo(input.getJsonObject(field).getValue("default"));
    }
  }

  @Test
  void theContractDescribesWhatComesBackAndTheValidatorHoldsAnswersToIt() throws Exception {
    var validator = io.vertx.openapi.validation.ResponseValidator.create(vertx, contract);
    io.vertx.core.json.JsonObject job = JobViews.job(new io.inferencejobs.jobs.Job(7, 1, "pretrained", "s3://b/m.onnx",
        "batch", "detection", io.inferencejobs.jobs.JobStatus.PENDING, new io.vertx.core.json.JsonObject(), 2, 0, 0, 0,
        null, java.time.OffsetDateTime.now(), null, null, new io.vertx.core.json.JsonArray(), 1, null, 1, null, null));
    var ok = io.vertx.openapi.validation.ValidatableResponse.create(200, io.vertx.core.buffer.Buffer.buffer(
        job.encode()), "application/json");
    validator.validate(ok, "getInferenceJob").await(10, TimeUnit.SECONDS);
    // a job without its links, or with a status the contract does not have, is not what the contract promises
    for (io.vertx.core.json.JsonObject wrong : List.of(job.copy().put("links", (Object) null),
        job.copy().put("status", "paused"), job.copy().put("id", "seven"))) {
      var bad = io.vertx.openapi.validation.ValidatableResponse.create(200, io.vertx.core.buffer.Buffer.buffer(
          wrong.encode()), "application/json");
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> validator.validate(bad, "getInferenceJob")
          .await(10, TimeUnit.SECONDS)).as(wrong.encode()).isInstanceOf(Exception.class);
    }
    // every status of every operation has a declared answer: errors fall back to the error shape
    var error = io.vertx.openapi.validation.ValidatableResponse.create(418, io.vertx.core.buffer.Buffer.buffer(
        ApiError.badRequest("x", "y").toJson().encode()), "application/json");
    validator.validate(error, "getInferenceJob").await(10, TimeUnit.SECONDS);
  }
}
