package io.inferencejobs.it;

import io.inferencejobs.app.Node;
import io.inferencejobs.config.Auth;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static io.inferencejobs.it.Api.INF;
import static io.inferencejobs.it.BadInputIT.assertError;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every limit, reached on a node of its own (API role only, so jobs stay pending): body and upload sizes and files
 * per upload (413), images per job (422), active jobs per key and the per-key rate (429 with Retry-After), and a
 * blocking pool of one thread and no queue (503 with Retry-After). A refused request writes nothing.
 */
class LimitsIT {
  static final Path IMAGES = JobFlowIT.IMAGES;
  static Node node;
  static Api api;
  /** The test's own S3 client: the node's one-thread pool is what the tests fill up, so the checks must not use it. */
  static io.inferencejobs.storage.S3Storage s3;

  @BeforeAll
  static void start() {
    Map<String, String> env = new HashMap<>(TestService.settings("limits"));
    env.put("ROLES", "api");
    StringBuilder keys = new StringBuilder();
    for (String name : List.of("sizes", "jobs", "burst", "pool")) {
      keys.append(keys.length() > 0 ? "," : "").append(name).append(":admin:").append(Auth.hash(key(name)));
    }
    env.put("API_KEYS", keys.toString());
    env.put("MAX_UPLOAD_BYTES", "600000");
    env.put("MAX_FILES_PER_UPLOAD", "2");
    env.put("MAX_JSON_BODY_BYTES", "4096");
    env.put("MAX_IMAGES_PER_JOB", "3");
    env.put("MAX_ACTIVE_JOBS_PER_TENANT", "1");
    env.put("RATE_PER_SECOND", "0.5");
    env.put("RATE_BURST", "8");
    env.put("WORKER_IO_THREADS", "1");
    env.put("MAX_QUEUED_TASKS", "0");
    env.put("MAX_CHECKPOINT_BYTES", "2048");
    node = TestService.start(env);
    api = new Api(node.httpPort());
  }

  @AfterAll
  static void stop() {
    api.close();
    Api.await(node.closeAsync());
  }

  static String key(String name) {
    return "limits-it-key-for-" + name + "-0123456789";
  }

  static Map<String, String> as(String name) {
    return Map.of("Authorization", "Bearer " + key(name));
  }

  static synchronized io.inferencejobs.storage.S3Storage s3() {
    if (s3 == null) {
      s3 = new io.inferencejobs.storage.S3Storage(node.config().s3(), node.s3Endpoint(),
          new io.inferencejobs.support.BoundedExecutor(api.vertx(), "limits-test-s3", 2, 64));
    }
    return s3;
  }

  static long[] counts() {
    var r = Api.await(node.pool().query("""
        SELECT (SELECT count(*) FROM upload_sessions) AS s, (SELECT count(*) FROM uploaded_files) AS f,
               (SELECT count(*) FROM inference_jobs) AS j, (SELECT count(*) FROM job_images) AS i""").execute())
        .iterator().next();
    long objects = Api.await(s3().listKeys(new S3Uri(node.storage().bucket(), "inference/"), 100_000)).size();
    return new long[] {r.getLong("s"), r.getLong("f"), r.getLong("j"), r.getLong("i"), objects};
  }

  static void assertRetryAfter(HttpResponse<Buffer> r, int status) {
    assertError(r, status, null);
    assertThat(r.getHeader("Retry-After")).as("Retry-After").isNotNull();
    assertThat(Integer.parseInt(r.getHeader("Retry-After"))).isPositive();
  }

  @Test
  void sizesAndCountsAnswer413Or422() {
    long[] before = counts();
    assertError(api.upload(1, List.of(Map.entry("astronaut.png", IMAGES.resolve("astronaut.png"))), as("sizes")), 413,
        null);
    assertError(api.upload(1, List.of(Map.entry("a.jpg", IMAGES.resolve("horses.jpg")),
        Map.entry("b.jpg", IMAGES.resolve("horses.jpg")), Map.entry("c.jpg", IMAGES.resolve("horses.jpg"))),
        as("sizes")), 413, "files");
    JsonArray many = new JsonArray();
    for (int i = 0; i < 200; i++) {
      many.add("s3://" + node.storage().bucket() + "/a-rather-long-object-key-to-fill-the-body/" + i + ".jpg");
    }
    assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_uris", many)), as("sizes")), 413,
        null);
    JsonArray four = new JsonArray();
    for (int i = 0; i < 4; i++) {
      four.add("s3://" + node.storage().bucket() + "/x/" + i + ".jpg");
    }
    assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_uris", four)), as("sizes")), 422,
        "input_data");
    assertThat(counts()).containsExactly(before);
  }

  @Test
  void checkpointsOverTheLimitAre413() {
    long[] before = counts();
    byte[] atTheEdge = new byte[2048];
    atTheEdge[0] = 0x08;
    byte[] past = java.util.Arrays.copyOf(atTheEdge, 2049);
    Map<String, String> headers = new HashMap<>(as("sizes"));
    headers.put("Content-Type", "application/octet-stream");
    // at the limit the file is taken in and goes to be inspected: this node has no worker, so 503
    HttpResponse<Buffer> edge = api.request(io.vertx.core.http.HttpMethod.PUT, "/api/v1/training_jobs/1/checkpoints/x",
        headers, Buffer.buffer(atTheEdge));
    assertRetryAfter(edge, 503);
    assertError(api.request(io.vertx.core.http.HttpMethod.PUT, "/api/v1/training_jobs/1/checkpoints/x", headers,
        Buffer.buffer(past)), 413, "body");
    assertThat(counts()).containsExactly(before);
  }

  @Test
  void activeJobsPerKey() {
    String image = "s3://" + node.storage().bucket() + "/x/one.jpg";
    JsonObject request = Api.jobRequest(new JsonObject().put("image_uris", new JsonArray().add(image)));
    Map<String, String> first = new HashMap<>(as("jobs"));
    first.put("Idempotency-Key", "limits-it-first");
    HttpResponse<Buffer> r = api.post(INF + "/jobs", request, first);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    long[] before = counts();
    HttpResponse<Buffer> refused = api.post(INF + "/jobs", request, as("jobs"));
    assertRetryAfter(refused, 429);
    assertThat(refused.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("'jobs'");
    // a retry of the job it already has is no new job: answered, not refused
    assertThat(api.post(INF + "/jobs", request, first).statusCode()).isEqualTo(201);
    assertThat(counts()).containsExactly(before);
    // another key is not held back by this one's jobs
    assertThat(api.post(INF + "/jobs", request, as("sizes")).statusCode()).isEqualTo(201);
    // once its job is no longer active, the key may create another
    long id = r.bodyAsJsonObject().getLong("id");
    assertThat(api.request(io.vertx.core.http.HttpMethod.POST, INF + "/jobs/" + id + "/cancel", as("jobs"), null)
        .statusCode()).isEqualTo(202);
    assertThat(api.post(INF + "/jobs", request, as("jobs")).statusCode()).isEqualTo(201);
  }

  @Test
  void ratePerKey() {
    int ok = 0;
    HttpResponse<Buffer> r;
    do {
      r = api.get(INF + "/jobs?limit=1", as("burst"));
      if (r.statusCode() == 200) {
        ok++;
      }
    } while (r.statusCode() == 200 && ok < 50);
    assertThat(ok).as("requests served before the limit").isBetween(8, 9);
    assertRetryAfter(r, 429);
    assertThat(Integer.parseInt(r.getHeader("Retry-After"))).isBetween(1, 2);
    // per key: another key still gets through
    assertThat(api.get(INF + "/jobs?limit=1", as("pool")).statusCode()).isEqualTo(200);
  }

  @Test
  void aFullPoolAnswers503AndWritesNothing() throws Exception {
    long[] before = counts();
    // one upload is fine with a one-thread pool ...
    HttpResponse<Buffer> one = api.upload(1, List.of(Map.entry("dog.jpg", IMAGES.resolve("dog.jpg"))), as("pool"));
    assertThat(one.statusCode()).as(one.bodyAsString()).isEqualTo(200);
    before = counts();
    // ... two files are copied to S3 at once: the second finds the pool full
    HttpResponse<Buffer> two = api.upload(1, List.of(Map.entry("dog.jpg", IMAGES.resolve("dog.jpg")),
        Map.entry("eagle.jpg", IMAGES.resolve("eagle.jpg"))), as("pool"));
    assertRetryAfter(two, 503);
    assertThat(counts()).containsExactly(before);
    // job creation looks the checkpoint and the image prefix up at once: the same
    S3Uri model = new S3Uri(node.storage().bucket(), "models/limits-copy.onnx");
    Api.await(s3().putBytes(model, new byte[] {0x08, 0x07, 0x12}, "application/octet-stream"));
    String prefix = one.bodyAsJsonObject().getString("s3_prefix");
    HttpResponse<Buffer> job = api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_paths_s3", prefix))
        .put("checkpoint_path", model.toString()), as("pool"));
    assertRetryAfter(job, 503);
    assertThat(counts()).containsExactly(before);
  }
}
