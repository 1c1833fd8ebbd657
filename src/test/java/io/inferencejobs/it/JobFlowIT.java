package io.inferencejobs.it;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static io.inferencejobs.it.Api.INF;
import static org.assertj.core.api.Assertions.assertThat;

/** The whole flow over HTTP, on real photos, with the bundled model, against real PostgreSQL and S3. */
class JobFlowIT extends SharedServiceIT {
  static final Path IMAGES = Path.of("src/test/resources/images");

  /** One expected detection (the letterboxed table of src/test/resources/models/README.md). */
  record Expect(String name, double conf, double x1, double y1, double x2, double y2) {
  }

  static final List<Expect> DOG = List.of(
      new Expect("car", 0.53, 469, 78, 682, 166), new Expect("bicycle", 0.52, 116, 135, 564, 473),
      new Expect("dog", 0.39, 125, 210, 310, 538), new Expect("bicycle", 0.32, 136, 138, 258, 220),
      new Expect("truck", 0.29, 469, 78, 682, 166));
  static final List<Expect> PERSON = List.of(
      new Expect("person", 0.76, 191, 104, 273, 379), new Expect("dog", 0.43, 66, 263, 197, 351),
      new Expect("cow", 0.36, 404, 137, 603, 339), new Expect("horse", 0.34, 404, 137, 603, 339),
      new Expect("cow", 0.30, 66, 263, 197, 351), new Expect("sheep", 0.26, 404, 137, 603, 339));

  static void assertDetections(JsonArray predictions, List<Expect> expected) {
    assertThat(predictions).hasSize(expected.size());
    for (Expect e : expected) {
      boolean found = predictions.stream().map(o -> (JsonObject) o).anyMatch(p -> {
        JsonObject b = p.getJsonObject("bbox");
        return p.getString("class_name").equals(e.name())
            && Math.abs(p.getDouble("confidence") - e.conf()) <= 0.02
            && Math.abs(b.getDouble("x1") - e.x1()) <= 3 && Math.abs(b.getDouble("y1") - e.y1()) <= 3
            && Math.abs(b.getDouble("x2") - e.x2()) <= 3 && Math.abs(b.getDouble("y2") - e.y2()) <= 3;
      });
      assertThat(found).as("%s in %s", e, predictions.encode()).isTrue();
    }
  }

  @Test
  void uploadRunAndFetchResultsWithOriginalNames() {
    HttpResponse<Buffer> up = api.upload(1, List.of(
        Map.entry("dog.jpg", IMAGES.resolve("dog.jpg")),
        Map.entry("my person photo.jpg", IMAGES.resolve("person.jpg"))));
    assertThat(up.statusCode()).as(up.bodyAsString()).isEqualTo(200);
    JsonObject upload = up.bodyAsJsonObject();
    assertThat(upload.getString("status")).isEqualTo("success");
    assertThat(upload.getInteger("total_files")).isEqualTo(2);
    String session = upload.getString("inference_session_id");
    JsonArray files = upload.getJsonArray("uploaded_files");
    assertThat(files.getJsonObject(0).getString("original_filename")).isEqualTo("dog.jpg");
    assertThat(files.getJsonObject(0).getString("content_type")).isEqualTo("image/jpeg");
    assertThat(files.getJsonObject(0).getLong("size_bytes")).isEqualTo(163759L);
    assertThat(files.getJsonObject(1).getString("s3_uri"))
        .startsWith(upload.getString("s3_prefix")).endsWith(".jpg")
        .contains("inference/" + session + "/");

    HttpResponse<Buffer> created = api.post(INF + "/jobs",
        Api.jobRequest(new JsonObject().put("inference_session_id", session)));
    assertThat(created.statusCode()).as(created.bodyAsString()).isEqualTo(201);
    JsonObject job = created.bodyAsJsonObject();
    long id = job.getLong("id");
    assertThat(created.getHeader("Location")).isEqualTo(INF + "/jobs/" + id);
    assertThat(job.getString("status")).isEqualTo("pending");
    assertThat(job.getString("task_type")).isEqualTo("detection");
    assertThat(job.getInteger("total_images")).isEqualTo(2);
    assertThat(job.getJsonObject("input_data").getDouble("confidence_threshold")).isEqualTo(0.25);
    assertThat(job.getJsonObject("input_data").getDouble("iou_threshold")).isEqualTo(0.45);
    assertThat(job.getJsonObject("input_data").getInteger("max_detections")).isEqualTo(100);
    assertThat(job.getJsonObject("links").getString("events")).isEqualTo(INF + "/jobs/" + id + "/events");

    JsonObject done = api.awaitTerminal(id);
    assertThat(done.getString("status")).isEqualTo("completed");

    JsonObject detail = api.get(INF + "/jobs/" + id).bodyAsJsonObject();
    assertThat(detail.getString("status")).isEqualTo("completed");
    assertThat(detail.getInteger("processed_images")).isEqualTo(2);
    assertThat(detail.getInteger("failed_images")).isZero();
    assertThat(detail.getDouble("progress")).isEqualTo(100.0);
    assertThat(detail.getDouble("avg_inference_time_ms")).isPositive();
    assertThat(detail.getString("started_at")).isNotNull();
    assertThat(detail.getString("completed_at")).isNotNull();
    assertThat(detail.getJsonArray("workers")).isNotEmpty();

    JsonObject results = api.get(INF + "/jobs/" + id + "/results").bodyAsJsonObject();
    assertThat(results.getLong("inference_job_id")).isEqualTo(id);
    assertThat(results.getInteger("total_count")).isEqualTo(2);
    JsonArray list = results.getJsonArray("results");
    JsonObject dog = list.getJsonObject(0);
    assertThat(dog.getInteger("image_index")).isZero();
    assertThat(dog.getString("image_name")).isEqualTo("dog.jpg");
    assertThat(dog.getInteger("width")).isEqualTo(768);
    assertThat(dog.getInteger("height")).isEqualTo(576);
    assertThat(dog.getString("error")).isNull();
    assertThat(dog.getInteger("num_detections")).isEqualTo(dog.getJsonArray("predictions").size());
    assertThat(dog.getDouble("inference_time_ms")).isPositive();
    assertThat(dog.getDouble("preprocessing_time_ms")).isNotNull();
    assertThat(dog.getDouble("postprocessing_time_ms")).isNotNull();
    assertDetections(dog.getJsonArray("predictions"), DOG);
    JsonObject person = list.getJsonObject(1);
    assertThat(person.getString("image_name")).isEqualTo("my person photo.jpg");
    assertDetections(person.getJsonArray("predictions"), PERSON);

    // the stored input image comes back as uploaded
    HttpResponse<Buffer> img = api.get(INF + "/jobs/" + id + "/images/0");
    assertThat(img.statusCode()).isEqualTo(200);
    assertThat(img.getHeader("Content-Type")).isEqualTo("image/jpeg");
    assertThat(img.body().length()).isEqualTo(163759);
  }

  @Test
  void classFilterAndAgnosticNmsReachTheEngine() {
    String session = api.upload(1, List.of(Map.entry("dog.jpg", IMAGES.resolve("dog.jpg"))))
        .bodyAsJsonObject().getString("inference_session_id");
    long id = api.createJob(Api.jobRequest(new JsonObject().put("inference_session_id", session)
        .put("classes", new JsonArray().add(2).add(7)).put("confidence_threshold", 0.2)));
    api.awaitTerminal(id);
    JsonArray preds = api.allResults(id).get(0).getJsonArray("predictions");
    assertThat(preds.stream().map(o -> ((JsonObject) o).getString("class_name")).toList())
        .contains("car", "truck").allMatch(name -> name.equals("car") || name.equals("truck"));

    long agnostic = api.createJob(Api.jobRequest(new JsonObject().put("inference_session_id", session)
        .put("agnostic_nms", true)));
    api.awaitTerminal(agnostic);
    JsonArray kept = api.allResults(agnostic).get(0).getJsonArray("predictions");
    // car and truck share one box: class-agnostic NMS keeps only the car
    assertThat(kept.stream().map(o -> ((JsonObject) o).getString("class_name")).toList())
        .contains("car").doesNotContain("truck");
  }

  @Test
  void prefixJobWithIdempotencyKey() {
    JsonObject upload = api.upload(1, List.of(Map.entry("dog.jpg", IMAGES.resolve("dog.jpg")))).bodyAsJsonObject();
    String session = upload.getString("inference_session_id");
    String uri = upload.getString("s3_prefix");
    JsonObject body = new JsonObject().put("training_job_id", 1).put("checkpoint_path", "pretrained")
        .put("inference_type", "batch").put("input_data", new JsonObject().put("image_paths_s3", uri));
    Map<String, String> key = Map.of("Idempotency-Key", "flow-" + session);
    HttpResponse<Buffer> first = api.post(INF + "/jobs", body, key);
    HttpResponse<Buffer> again = api.post(INF + "/jobs", body, key);
    assertThat(first.statusCode()).as(first.bodyAsString()).isEqualTo(201);
    assertThat(again.statusCode()).isEqualTo(201);
    assertThat(again.bodyAsJsonObject().getLong("id")).isEqualTo(first.bodyAsJsonObject().getLong("id"));
    HttpResponse<Buffer> other = api.post(INF + "/jobs", body.copy().put("inference_type", "single"), key);
    assertThat(other.statusCode()).isEqualTo(409);
    assertThat(other.bodyAsJsonObject().getJsonObject("error").getJsonArray("details").getJsonObject(0)
        .getString("field")).isEqualTo("Idempotency-Key");

    long id = first.bodyAsJsonObject().getLong("id");
    JsonObject done = api.awaitTerminal(id);
    assertThat(done.getString("status")).isEqualTo("completed");
    assertThat(api.allResults(id)).hasSize(1);
  }

  @Test
  void listingIsNewestFirstAndPaginated() {
    String session = api.upload(1, List.of(Map.entry("a.jpg", IMAGES.resolve("eagle.jpg"))))
        .bodyAsJsonObject().getString("inference_session_id");
    long a = api.createJob(Api.jobRequest(new JsonObject().put("inference_session_id", session)));
    long b = api.createJob(Api.jobRequest(new JsonObject().put("inference_session_id", session)));
    JsonObject page1 = api.get(INF + "/jobs?training_job_id=1&limit=1").bodyAsJsonObject();
    assertThat(page1.getJsonArray("jobs")).hasSize(1);
    long newest = page1.getJsonArray("jobs").getJsonObject(0).getLong("id");
    assertThat(newest).isGreaterThanOrEqualTo(b);
    String cursor = page1.getString("next_cursor");
    assertThat(cursor).isNotNull();
    JsonObject page2 = api.get(INF + "/jobs?training_job_id=1&limit=1&cursor=" + cursor).bodyAsJsonObject();
    assertThat(page2.getJsonArray("jobs").getJsonObject(0).getLong("id")).isLessThan(newest);
    JsonObject skipped = api.get(INF + "/jobs?limit=1&skip=1").bodyAsJsonObject();
    assertThat(skipped.getJsonArray("jobs").getJsonObject(0).getLong("id")).isLessThan(newest);
    api.awaitTerminal(a);
    api.awaitTerminal(b);
    JsonObject completed = api.get(INF + "/jobs?status=completed&limit=1000").bodyAsJsonObject();
    assertThat(completed.getJsonArray("jobs").stream().map(o -> ((JsonObject) o).getString("status")).distinct()
        .toList()).containsExactly("completed");
  }

  @Test
  void cancelAPendingOrRunningJobAndRefuseAFinishedOne() {
    String horses = api.upload(1, List.of(Map.entry("h.jpg", IMAGES.resolve("horses.jpg"))))
        .bodyAsJsonObject().getJsonArray("uploaded_files").getJsonObject(0).getString("s3_uri");
    JsonArray many = new JsonArray();
    for (int i = 0; i < 60; i++) {
      many.add(horses); // 60 real inferences: seconds of work, so the cancel lands while it is pending or running
    }
    long id = api.createJob(Api.jobRequest(new JsonObject().put("image_uris", many)));
    HttpResponse<Buffer> cancel = api.post(INF + "/jobs/" + id + "/cancel", new JsonObject());
    assertThat(cancel.statusCode()).as(cancel.bodyAsString()).isEqualTo(202);
    assertThat(cancel.bodyAsJsonObject().getString("status")).isEqualTo("cancelled");
    JsonObject done = api.awaitTerminal(id);
    assertThat(done.getString("status")).isEqualTo("cancelled");
    HttpResponse<Buffer> again = api.post(INF + "/jobs/" + id + "/cancel", new JsonObject());
    assertThat(again.statusCode()).isEqualTo(409);
    assertThat(api.post(INF + "/jobs/999999/cancel", new JsonObject()).statusCode()).isEqualTo(404);
  }

  @Test
  void missingAndCorruptImagesFailOnlyTheirOwnResult() throws Exception {
    // a truncated JPEG is refused by the upload API, so it is put into the bucket directly, as other tools would
    byte[] dog = java.nio.file.Files.readAllBytes(IMAGES.resolve("dog.jpg"));
    io.inferencejobs.storage.S3Uri broken = new io.inferencejobs.storage.S3Uri(node.storage().bucket(),
        "elsewhere/broken.jpg");
    Api.await(node.storage().putBytes(broken, java.util.Arrays.copyOf(dog, 2000), "image/jpeg"));
    JsonObject up = api.upload(1, List.of(Map.entry("dog.jpg", IMAGES.resolve("dog.jpg")))).bodyAsJsonObject();
    JsonArray uris = new JsonArray();
    up.getJsonArray("uploaded_files").forEach(f -> uris.add(((JsonObject) f).getString("s3_uri")));
    uris.add(broken.toString());
    uris.add("s3://inference-jobs/nowhere/missing.jpg");
    long id = api.createJob(Api.jobRequest(new JsonObject().put("image_uris", uris)));
    JsonObject done = api.awaitTerminal(id);
    // 2 of 3 failed: above the default 0.5 ratio, so the job fails, but every image has its own result
    assertThat(done.getString("status")).isEqualTo("failed");
    assertThat(done.getString("error_message")).contains("2 of 3 images failed");
    List<JsonObject> results = api.allResults(id);
    assertThat(results).hasSize(3);
    assertThat(results.get(0).getString("error")).isNull();
    assertThat(results.get(0).getJsonArray("predictions")).isNotEmpty();
    assertThat(results.get(1).getString("error")).isNotBlank();
    assertThat(results.get(1).getString("image_name")).isEqualTo("broken.jpg");
    // the same bytes through the upload API are refused: not an image a reader accepts
    Path bad = java.nio.file.Files.createTempFile("truncated", ".jpg");
    java.nio.file.Files.write(bad, java.util.Arrays.copyOf(dog, 2000));
    HttpResponse<Buffer> refused = api.upload(1, List.of(Map.entry("broken.jpg", bad)));
    assertThat(refused.statusCode()).as(refused.bodyAsString()).isEqualTo(415);
    assertThat(results.get(2).getString("error")).contains("does not exist");
  }
}
