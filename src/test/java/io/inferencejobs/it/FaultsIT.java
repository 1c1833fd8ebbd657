package io.inferencejobs.it;

import io.inferencejobs.app.Node;
import io.inferencejobs.persistence.EmbeddedPostgresServer;
import io.inferencejobs.storage.EmbeddedS3Server;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.inferencejobs.it.Api.INF;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Faults of the real dependencies in the middle of jobs, on a node whose PostgreSQL and S3 the test owns (started here,
 * configured as external, stopped and started again at will): S3 down for a while and PostgreSQL restarted end in
 * retried chunks and completed jobs with every image once; a chunk that keeps failing fails its job with the cause
 * after the configured attempts; a checkpoint that is not a model fails its job once, unretried.
 */
class FaultsIT {
  static final int MAX_ATTEMPTS = 5;
  static Path dir;
  static int pgPort;
  static int s3Port;
  static EmbeddedPostgresServer pg;
  static EmbeddedS3Server s3;
  static Node node;
  static Api api;
  static String image;

  @BeforeAll
  static void start() throws Exception {
    Map<String, String> env = TestService.settings("faults");
    dir = Path.of(env.get("DATA_DIR"));
    pgPort = NodeProcess.freePort();
    s3Port = NodeProcess.freePort();
    pg = EmbeddedPostgresServer.start(dir.resolve("store"), pgPort);
    s3 = EmbeddedS3Server.start(dir.resolve("store"), s3Port, "inference-jobs", "inference-jobs-secret");
    env.put("PG_HOST", "127.0.0.1");
    env.put("PG_PORT", Integer.toString(pgPort));
    env.put("PG_DATABASE", "postgres");
    env.put("PG_USER", "postgres");
    env.put("PG_PASSWORD", "postgres");
    env.put("S3_ENDPOINT", "http://127.0.0.1:" + s3Port);
    env.put("S3_ACCESS_KEY", "inference-jobs");
    env.put("S3_SECRET_KEY", "inference-jobs-secret");
    env.put("WORKER_MAX_ATTEMPTS", Integer.toString(MAX_ATTEMPTS));
    env.put("WORKER_RETRY_BACKOFF_MS", "250");
    env.put("WORKER_CHUNK_SIZE", "4");
    env.put("ENGINE_BATCH_SIZE", "4");
    // horses.jpg (133 kB) passes, giraffe.jpg (383 kB) does not
    env.put("MAX_IMAGE_BYTES", "300000");
    // output deliveries that fail are tried again soon
    env.put("WEBHOOK_RETRY_BASE_MS", "200");
    env.put("WEBHOOK_RETRY_MAX_MS", "1000");
    node = TestService.start(env);
    api = new Api(node.httpPort());
    image = api.upload(1, List.of(Map.entry("horses.jpg", JobFlowIT.IMAGES.resolve("horses.jpg"))))
        .bodyAsJsonObject().getJsonArray("uploaded_files").getJsonObject(0).getString("s3_uri");
  }

  @AfterAll
  static void stop() throws Exception {
    api.close();
    Api.await(node.closeAsync());
    s3.close();
    pg.close();
  }

  /** A job request for {@code images} copies of the uploaded photo. */
  static JsonObject request(int images) {
    JsonArray uris = new JsonArray();
    for (int i = 0; i < images; i++) {
      uris.add(image);
    }
    return Api.jobRequest(new JsonObject().put("image_uris", uris));
  }

  static long job(int images) {
    return api.createJob(request(images));
  }

  static void awaitImage(long id) {
    Api.Stream s = api.stream(INF + "/jobs/" + id + "/events", null);
    Api.await(s.until(events -> !Api.listedImages(events).isEmpty()));
    s.close();
  }

  /** The job completed and has exactly one result per image, none failed. */
  static void assertCompletedOnce(long id, int images) {
    JsonObject done = api.awaitTerminal(id);
    assertThat(done.getString("status")).as(done.encode()).isEqualTo("completed");
    assertThat(done.getInteger("processed_images")).isEqualTo(images);
    List<JsonObject> results = api.allResults(id);
    assertThat(done.getInteger("failed_images")).as("failed images: %s", results.stream()
        .filter(r -> r.getString("error") != null).toList()).isZero();
    assertThat(results).hasSize(images);
    Set<Integer> seen = new HashSet<>();
    for (JsonObject r : results) {
      assertThat(r.getString("error")).as(r.encode()).isNull();
      assertThat(seen.add(r.getInteger("image_index"))).isTrue();
    }
  }

  static Row chunks(long id) {
    return Api.await(node.pool().preparedQuery("""
        SELECT max(attempts) AS attempts, count(*) FILTER (WHERE last_error IS NOT NULL) AS failed,
               max(last_error) AS last_error FROM job_chunks WHERE job_id = $1""").execute(Tuple.of(id)))
        .iterator().next();
  }

  static void restartS3() throws Exception {
    s3 = EmbeddedS3Server.start(dir.resolve("store"), s3Port, "inference-jobs", "inference-jobs-secret");
  }

  @Test
  void s3GoneForAWhileEndsInRetriedChunksAndACompletedJob() throws Exception {
    long id = job(40);
    awaitImage(id);
    s3.close();
    try {
      // S3 stays away until a chunk has failed on it and been handed back
      Eventually.until(api.vertx(), "a chunk failed while S3 was down", Duration.ofSeconds(60),
          () -> chunks(id).getLong("failed"), failed -> failed > 0);
    } finally {
      restartS3();
    }
    assertCompletedOnce(id, 40);
    Row c = chunks(id);
    assertThat(c.getInteger("attempts")).isGreaterThan(1).isLessThanOrEqualTo(MAX_ATTEMPTS);
    assertThat(c.getString("last_error")).contains("SdkClientException");
  }

  static Row outputDelivery(long id) {
    var rows = Api.await(node.pool().preparedQuery("SELECT state, attempts, last_error, result FROM job_deliveries "
        + "WHERE job_id = $1 AND kind = 'output'").execute(Tuple.of(id)));
    return rows.size() == 0 ? null : rows.iterator().next();
  }

  @Test
  void s3GoneWhileAJobsOutputFilesAreWrittenEndsInTheFilesWrittenOnceItIsBack() throws Exception {
    String prefix = "s3://" + node.storage().bucket() + "/exports/default/faults-" + System.nanoTime() + "/";
    long id = api.createJob(request(40).put("output", new JsonObject().put("s3_prefix", prefix)
        .put("formats", new JsonArray().add("coco").add("csv"))));
    awaitImage(id);
    s3.close();
    try {
      // the job ends while S3 is away: its output files are due at once and cannot be written
      HttpResponse<Buffer> cancelled = api.post(INF + "/jobs/" + id + "/cancel", new JsonObject());
      assertThat(cancelled.statusCode()).isEqualTo(202);
      Row tried = Eventually.until(api.vertx(), "the output files failed to be written while S3 was down",
          Duration.ofSeconds(60), () -> outputDelivery(id),
          d -> d != null && d.getInteger("attempts") >= 1 && d.getString("last_error") != null);
      assertThat(tried.getString("state")).as("tried again later, not given up").isEqualTo("pending");
    } finally {
      restartS3();
    }
    Row done = Eventually.until(api.vertx(), "the output files written once S3 was back", Duration.ofSeconds(60),
        () -> outputDelivery(id), d -> !"pending".equals(d.getString("state")));
    assertThat(done.getString("state")).as(String.valueOf(done.getString("last_error"))).isEqualTo("delivered");
    JsonArray files = ((JsonObject) done.getJson("result")).getJsonArray("files");
    assertThat(files).hasSize(2);
    for (Object o : files) {
      JsonObject f = (JsonObject) o;
      assertThat(f.getString("s3_uri")).startsWith(prefix);
      // whole files: the size S3 has is the size written
      assertThat(Api.await(node.storage().head(S3Uri.parse(f.getString("s3_uri")).orElseThrow())).orElseThrow()
          .size()).isEqualTo(f.getLong("bytes"));
    }
    JsonObject coco = new JsonObject(Buffer.buffer(Api.await(node.storage().getBytes(
        S3Uri.parse(prefix + "job-" + id + ".coco.json").orElseThrow()))));
    assertThat(coco.getJsonArray("images")).hasSize(api.allResults(id).size());
  }

  @Test
  void postgresRestartedMidJobEndsInACompletedJob() throws Exception {
    long id = job(40);
    awaitImage(id);
    pg.close();
    pg = EmbeddedPostgresServer.start(dir.resolve("store"), pgPort);
    assertCompletedOnce(id, 40);
  }

  @Test
  void aCreateWhilePostgresIsDownIs503JsonAndLeavesNothingBehind() throws Exception {
    long before = count();
    pg.close();
    try {
      var r = api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_uris", new JsonArray().add(image))));
      assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(503);
      assertThat(r.getHeader("Retry-After")).isNotBlank();
      assertThat(r.getHeader("Content-Type")).startsWith("application/json");
      assertThat(r.bodyAsJsonObject().getJsonObject("error").getString("message")).isNotBlank();
    } finally {
      pg = EmbeddedPostgresServer.start(dir.resolve("store"), pgPort);
    }
    // back: nothing of the refused create was stored, and the next create runs to the end
    assertThat(count()).isEqualTo(before);
    long id = job(1);
    assertCompletedOnce(id, 1);
  }

  /** Rows of jobs, their images, chunks and events, all together. */
  static long count() {
    return Api.await(node.pool().preparedQuery("SELECT (SELECT count(*) FROM inference_jobs)"
        + " + (SELECT count(*) FROM job_images) + (SELECT count(*) FROM job_chunks)"
        + " + (SELECT count(*) FROM job_events) AS n").execute(Tuple.tuple())).iterator().next().getLong("n");
  }

  @Test
  void aChunkThatKeepsFailingFailsItsJobWithTheCause() throws Exception {
    // a job now: the API remembers for a while that the checkpoint exists, so the next one is created without S3
    assertCompletedOnce(job(1), 1);
    s3.close();
    try {
      long id = job(4);
      JsonObject done = api.awaitTerminal(id);
      assertThat(done.getString("status")).isEqualTo("failed");
      assertThat(done.getString("error_message")).contains("failed " + MAX_ATTEMPTS + " times")
          .contains("SdkClientException");
      assertThat(chunks(id).getInteger("attempts")).isEqualTo(MAX_ATTEMPTS + 1);
    } finally {
      restartS3();
    }
  }

  @Test
  void anImageOverTheLimitFailsOnItsOwnNamingTheLimit() throws Exception {
    io.inferencejobs.storage.S3Uri big = io.inferencejobs.storage.S3Uri.parse("s3://inference-jobs/big/giraffe.jpg")
        .orElseThrow();
    Api.await(node.storage().putBytes(big, Files.readAllBytes(JobFlowIT.IMAGES.resolve("giraffe.jpg")),
        "image/jpeg"));
    long id = api.createJob(Api.jobRequest(new JsonObject().put("image_uris", new JsonArray().add(image)
        .add(big.toString()).add(image).add(image))));
    JsonObject done = api.awaitTerminal(id);
    assertThat(done.getString("status")).isEqualTo("completed");
    List<JsonObject> results = api.allResults(id);
    assertThat(results.get(1).getString("error")).contains("382965 bytes").contains("MAX_IMAGE_BYTES");
    assertThat(results.stream().filter(r -> r.getString("error") == null).count()).isEqualTo(3);
    assertThat(chunks(id).getInteger("attempts")).isEqualTo(1);
  }

  @Test
  void aCheckpointThatIsNotAModelFailsItsJobOnceWithTheReason() throws Exception {
    // it starts like an ONNX file (so the API takes it), but no engine can load it
    Path notAModel = Files.createTempFile(dir, "not-a-model", ".onnx");
    Files.write(notAModel, new byte[] {0x08, 0x07, 0x12, 0x7f, 'n', 'o', 't', ' ', 'a', ' ', 'm', 'o', 'd', 'e', 'l'});
    String uri = "s3://inference-jobs/checkpoints/not-a-model.onnx";
    Api.await(node.storage().putFile(io.inferencejobs.storage.S3Uri.parse(uri).orElseThrow(), notAModel,
        "application/octet-stream"));
    long id = api.createJob(Api.jobRequest(new JsonObject().put("image_uris", new JsonArray().add(image)))
        .put("checkpoint_path", uri));
    Api.Stream s = api.stream(INF + "/jobs/" + id + "/events", null);
    Api.await(s.until(Api::terminal));
    s.close();
    JsonObject done = s.real().get(s.real().size() - 1).json();
    assertThat(done.getString("status")).isEqualTo("failed");
    assertThat(done.getString("error_message")).contains("cannot be used").contains(uri.substring(5));
    assertThat(s.real().stream().filter(e -> e.type().equals("failed")).count()).isEqualTo(1);
    assertThat(chunks(id).getInteger("attempts")).isEqualTo(1);
  }
}
