package io.inferencejobs.it;

import io.inferencejobs.storage.S3Uri;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.sqlclient.Row;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static io.inferencejobs.it.Api.INF;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every bad request gets the right status and the JSON error naming the field, and writes nothing: the row counts
 * and the uploaded objects in S3 are the same before and after.
 */
class BadInputIT extends SharedServiceIT {
  static final Path IMAGES = JobFlowIT.IMAGES;
  long[] before;

  /** Row counts of every table a request could write, plus the number of uploaded objects. */
  static long[] snapshot() {
    Row r = Api.await(node.pool().query("""
        SELECT (SELECT count(*) FROM training_jobs) AS t, (SELECT count(*) FROM upload_sessions) AS s,
               (SELECT count(*) FROM uploaded_files) AS f, (SELECT count(*) FROM inference_jobs) AS j,
               (SELECT count(*) FROM job_images) AS i, (SELECT count(*) FROM job_chunks) AS c,
               (SELECT count(*) FROM job_events) AS e""").execute()).iterator().next();
    long objects = Api.await(node.storage().listKeys(new S3Uri(node.storage().bucket(), "inference/"), 1_000_000))
        .size();
    return new long[] {r.getLong("t"), r.getLong("s"), r.getLong("f"), r.getLong("j"), r.getLong("i"),
        r.getLong("c"), r.getLong("e"), objects};
  }

  @BeforeEach
  void countBefore() {
    before = snapshot();
  }

  @AfterEach
  void nothingWritten() {
    assertThat(snapshot()).as("rows and objects after a rejected request").containsExactly(before);
  }

  static void assertError(HttpResponse<Buffer> r, int status, String field) {
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(status);
    assertThat(r.getHeader("Content-Type")).startsWith("application/json");
    JsonObject error = r.bodyAsJsonObject().getJsonObject("error");
    assertThat(error.getString("code")).isNotBlank();
    assertThat(error.getString("message")).isNotBlank();
    JsonArray details = error.getJsonArray("details");
    if (field != null) {
      assertThat(details.stream().map(d -> ((JsonObject) d).getString("field")).toList()).contains(field);
      assertThat(details.stream().map(d -> ((JsonObject) d).getString("reason")).allMatch(x -> !x.isBlank()))
          .isTrue();
    }
  }

  static JsonObject valid() {
    return Api.jobRequest(new JsonObject().put("image_uris", new JsonArray().add("s3://inference-jobs/x/a.jpg")));
  }

  @Test
  void aQueryThatIsNotValidPercentEncodingIs400NotA500() {
    for (String query : List.of("cursor=%zz", "limit=1&cursor=a%", "cursor=l%C8%A1%2")) {
      assertError(api.get(INF + "/jobs?" + query), 400, "query");
    }
    assertError(api.get(INF + "/jobs/1/export?format=%q1"), 400, "query");
  }

  @Test
  void unknownTrainingJob() {
    assertError(api.post(INF + "/jobs", valid().put("training_job_id", 424242)), 404, "training_job_id");
    assertError(api.upload(424242, List.of(Map.entry("dog.jpg", IMAGES.resolve("dog.jpg")))), 404,
        "training_job_id");
  }

  @Test
  void nonImageUploadIsRefusedFromItsBytes() throws Exception {
    Path text = Files.createTempFile("notes", ".jpg");
    Files.writeString(text, "this is text, not a JPEG\n");
    HttpResponse<Buffer> r = api.upload(1, List.of(Map.entry("dog.jpg", IMAGES.resolve("dog.jpg")),
        Map.entry("holiday.jpg", text)));
    assertError(r, 415, "files[1]");
    assertThat(r.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("holiday.jpg");
    Path empty = Files.createTempFile("empty", ".png");
    assertError(api.upload(1, List.of(Map.entry("empty.png", empty))), 415, "files[0]");
  }

  @Test
  void overSizeUpload() throws Exception {
    Path big = Files.createTempFile("big", ".jpg");
    byte[] chunk = new byte[1024 * 1024];
    chunk[0] = (byte) 0xFF;
    chunk[1] = (byte) 0xD8;
    chunk[2] = (byte) 0xFF;
    try (var out = Files.newOutputStream(big)) {
      for (long written = 0; written <= TestService.MAX_UPLOAD_BYTES; written += chunk.length) {
        out.write(chunk);
      }
    }
    assertError(api.upload(1, List.of(Map.entry("big.jpg", big))), 413, null);
    Files.delete(big);
  }

  @Test
  void fileNameWithParentSegments() {
    assertError(api.upload(1, List.of(Map.entry("../../etc/passwd.jpg", IMAGES.resolve("dog.jpg")))), 400,
        "files[0]");
  }

  @Test
  void uploadWithoutFilesOrWithoutTrainingJob() {
    assertError(api.postRaw(INF + "/upload-images?training_job_id=1", "multipart/form-data; boundary=x",
        Buffer.buffer("--x--\r\n")), 400, "files");
    assertError(api.postRaw(INF + "/upload-images", "multipart/form-data; boundary=x",
        Buffer.buffer("--x--\r\n")), 400, "training_job_id");
    assertError(api.postRaw(INF + "/upload-images?training_job_id=abc", "multipart/form-data; boundary=x",
        Buffer.buffer("--x--\r\n")), 400, "training_job_id");
  }

  @Test
  void missingAndMalformedFields() {
    JsonObject noCheckpoint = valid();
    noCheckpoint.remove("checkpoint_path");
    assertError(api.post(INF + "/jobs", noCheckpoint), 400, "checkpoint_path");
    assertError(api.post(INF + "/jobs", valid().put("inference_type", "everything")), 400, "inference_type");
    assertError(api.post(INF + "/jobs", valid().put("training_job_id", "one")), 400, "training_job_id");
    assertError(api.postRaw(INF + "/jobs", "application/json", Buffer.buffer("{not json")), 400, null);
    JsonObject twoSources = valid();
    twoSources.getJsonObject("input_data").put("image_paths_s3", "s3://inference-jobs/x/");
    assertError(api.post(INF + "/jobs", twoSources), 400, "input_data");
    JsonObject noSource = Api.jobRequest(new JsonObject());
    assertError(api.post(INF + "/jobs", noSource), 400, "input_data");
    assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("inference_session_id", "nope"))), 400,
        "input_data.inference_session_id");
    assertError(api.post("/api/v1/training_jobs", new JsonObject().put("name", "x")), 400, "task_type");
  }

  @Test
  void thresholdsOutOfRange() {
    for (var bad : List.of(Map.entry("confidence_threshold", (Object) 1.5), Map.entry("confidence_threshold", -0.1),
        Map.entry("iou_threshold", 2), Map.entry("max_detections", 0), Map.entry("max_detections", 1001),
        Map.entry("confidence_threshold", "high"))) {
      JsonObject body = valid();
      body.getJsonObject("input_data").put(bad.getKey(), bad.getValue());
      assertError(api.post(INF + "/jobs", body), 400, "input_data." + bad.getKey());
    }
    assertError(api.get(INF + "/jobs?limit=0"), 400, "limit");
    assertError(api.get(INF + "/jobs?status=sleeping"), 400, "status");
    assertError(api.get(INF + "/jobs/0"), 400, "inference_job_id");
  }

  @Test
  void aLargeBodyIsCheckedAsStrictlyAsASmallOne() {
    // past 16 KiB the body is validated on the worker pool instead of the event loop: the same rules, the same error
    JsonArray many = new JsonArray();
    for (int i = 0; many.encode().length() <= 20 * 1024; i++) {
      many.add("s3://inference-jobs/a-long-enough-key-to-make-the-body-large/" + i + ".jpg");
    }
    JsonObject large = Api.jobRequest(new JsonObject().put("image_uris", many).put("confidence_threshold", 1.5));
    assertThat(large.encode().length()).isGreaterThan(io.inferencejobs.api.ApiVerticle.INLINE_VALIDATION_BYTES);
    assertError(api.post(INF + "/jobs", large), 400, "input_data.confidence_threshold");
    JsonObject small = valid();
    small.getJsonObject("input_data").put("confidence_threshold", 1.5);
    assertThat(api.post(INF + "/jobs", large).bodyAsJsonObject().getJsonObject("error").getJsonArray("details"))
        .isEqualTo(api.post(INF + "/jobs", small).bodyAsJsonObject().getJsonObject("error").getJsonArray("details"));
    assertError(api.post(INF + "/jobs", valid().put("inference_type", many)), 400, "inference_type");
  }

  @Test
  void malformedS3Uris() {
    assertError(api.post(INF + "/jobs", valid().put("checkpoint_path", "http://example.com/model.onnx")), 400,
        "checkpoint_path");
    assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_paths_s3", "s3:/bucket"))),
        400, "input_data.image_paths_s3");
    assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_uris",
        new JsonArray().add("s3://inference-jobs/a.jpg").add("not-a-uri")))), 400, "input_data.image_uris[1]");
  }

  @Test
  void checkpointThatDoesNotExist() {
    assertError(api.post(INF + "/jobs", valid().put("checkpoint_path", "s3://inference-jobs/models/none.onnx")), 422,
        "checkpoint_path");
  }

  @Test
  void emptyImagePrefixOrSession() {
    assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_paths_s3",
        "s3://inference-jobs/nothing-here/"))), 422, "input_data.image_paths_s3");
    assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("inference_session_id",
        "7d1d5bb4-9a52-4a8a-9c41-1d0c4e3f0a11"))), 404, "input_data.inference_session_id");
  }

  @Test
  void singleWithManyImages() {
    JsonObject body = Api.jobRequest(new JsonObject().put("image_uris", new JsonArray()
        .add("s3://inference-jobs/a.jpg").add("s3://inference-jobs/b.jpg"))).put("inference_type", "single");
    assertError(api.post(INF + "/jobs", body), 422, "inference_type");
  }

  @Test
  void unknownPathsAndWrongMethodsAnswerJson() {
    assertError(api.get("/api/v1/test_inference/test_inference/inference/jobs"), 404, null);
    assertError(api.get(INF + "/jobs/12345"), 404, "inference_job_id");
    assertError(api.request(HttpMethod.DELETE, INF + "/jobs"), 405, null);
    assertError(api.request(HttpMethod.PUT, INF + "/upload-images?training_job_id=1"), 405, null);
    assertError(api.get(INF + "/jobs/12345/events"), 404, "inference_job_id");
  }

  @Test
  void duplicateTrainingJobName() {
    assertError(api.post("/api/v1/training_jobs", new JsonObject().put("name", "pretrained-coco80")
        .put("task_type", "detection")), 409, "name");
    assertError(api.post("/api/v1/training_jobs", new JsonObject().put("name", "x").put("task_type", "detection")
        .put("checkpoints", new JsonObject().put("best", "file:///tmp/x.onnx"))), 400, "checkpoints.best");
  }
}
