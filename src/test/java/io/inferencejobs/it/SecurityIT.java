package io.inferencejobs.it;

import io.inferencejobs.app.Node;
import io.inferencejobs.config.Auth;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

import static io.inferencejobs.it.Api.INF;
import static io.inferencejobs.it.BadInputIT.assertError;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The service as an attacker and as a tenant see it, on a node of its own with two tenants and an admin:
 * every operation through every odd spelling of its path with every credential (no 2xx without the right key,
 * ever); tenants that cannot see, stream, cancel or reuse each other's jobs, uploads and idempotency keys; a write
 * key that cannot run a file of its own as a model; an images endpoint that never hands out bytes that are not an
 * image; the security headers.
 */
class SecurityIT {
  static final String ADMIN = "security-it-admin-key-0Zq8";
  static final String WRITER_A = "security-it-writer-a-key-4Hn2";
  static final String WRITER_A2 = "security-it-writer-a2-key-9Tb5";
  static final String READER_A = "security-it-reader-a-key-7Kc1";
  static final String WRITER_B = "security-it-writer-b-key-3Vx6";
  static final String READER_B = "security-it-reader-b-key-8Mw0";
  static final String SHARED = "s3://inference-jobs/shared/";
  static Node node;
  static Api api;
  static Contract contract;
  static byte[] dog;
  /** Team a's upload session, its file, and a job on it; team b's job on a shared image. */
  static String sessionA;
  static String fileA;
  static long jobA;
  static long jobB;

  @BeforeAll
  static void start() throws Exception {
    Map<String, String> env = new HashMap<>(TestService.settings("security"));
    env.put("ROLES", "api");
    env.put("API_KEYS", String.join(",", "ops:admin:" + Auth.hash(ADMIN),
        "ci-a:write:" + Auth.hash(WRITER_A) + ":team-a", "ci-a2:write:" + Auth.hash(WRITER_A2) + ":team-a",
        "dash-a:read:" + Auth.hash(READER_A) + ":team-a", "ci-b:write:" + Auth.hash(WRITER_B) + ":team-b",
        "dash-b:read:" + Auth.hash(READER_B) + ":team-b"));
    env.put("S3_SHARED_INPUTS", SHARED);
    env.put("RATE_PER_SECOND", "0");
    env.put("MAX_ACTIVE_JOBS_PER_TENANT", "0");
    env.put("METRICS_PUBLIC", "false");
    node = TestService.start(env);
    api = new Api(node.httpPort());
    contract = new Contract(api.vertx());
    dog = Files.readAllBytes(JobFlowIT.IMAGES.resolve("dog.jpg"));
    Api.await(node.storage().putBytes(S3Uri.parse(SHARED + "dog.jpg").orElseThrow(), dog, "image/jpeg"));
    HttpResponse<Buffer> up = api.upload(1, List.of(Map.entry("dog.jpg", JobFlowIT.IMAGES.resolve("dog.jpg"))),
        bearer(WRITER_A));
    assertThat(up.statusCode()).as(up.bodyAsString()).isEqualTo(200);
    sessionA = up.bodyAsJsonObject().getString("inference_session_id");
    fileA = up.bodyAsJsonObject().getJsonArray("uploaded_files").getJsonObject(0).getString("s3_uri");
    jobA = create(WRITER_A, new JsonObject().put("inference_session_id", sessionA));
    jobB = create(WRITER_B, new JsonObject().put("image_uris", new JsonArray().add(SHARED + "dog.jpg")));
  }

  @AfterAll
  static void stop() {
    api.close();
    Api.await(node.closeAsync());
  }

  /** Rows of every table a refused request must leave alone. */
  static long[] counts() {
    var row = Api.await(node.pool().query("""
        SELECT (SELECT count(*) FROM training_jobs) AS t, (SELECT count(*) FROM inference_jobs) AS j,
               (SELECT count(*) FROM upload_sessions) AS s, (SELECT count(*) FROM uploaded_files) AS f""").execute())
        .iterator().next();
    return new long[] {row.getLong("t"), row.getLong("j"), row.getLong("s"), row.getLong("f")};
  }

  static Map<String, String> bearer(String key) {
    return Map.of("Authorization", "Bearer " + key);
  }

  static long create(String key, JsonObject input) {
    HttpResponse<Buffer> r = api.post(INF + "/jobs", Api.jobRequest(input), bearer(key));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    return r.bodyAsJsonObject().getLong("id");
  }

  static String streamToken(String key) {
    HttpResponse<Buffer> r = api.request(HttpMethod.POST, "/api/v1/stream-tokens", bearer(key), null);
    assertThat(r.statusCode()).isEqualTo(201);
    return r.bodyAsJsonObject().getString("token");
  }

  /** A credential, with what it may do: its scope rank (0 none, 1 read, 2 write, 3 admin) and its tenant. */
  record Credential(String name, Map<String, String> headers, String query, int rank, String tenant) {
    boolean sees(String owner) {
      return rank == 3 || owner.equals(tenant);
    }
  }

  /** The odd spellings of a path: each is a path the contract does not have, whatever the router makes of it. */
  static Map<String, String> variants(String path) {
    Map<String, String> v = new LinkedHashMap<>();
    v.put("trailing slash", path + "/");
    v.put("double slash", path.replaceFirst("/", "//"));
    v.put("inner double slash", path.lastIndexOf('/') > 0
        ? path.substring(0, path.lastIndexOf('/')) + "/" + path.substring(path.lastIndexOf('/')) : path + "//");
    v.put("dot segment", "/." + path);
    v.put("dot-dot segment", "/x/.." + path);
    int letter = 1;
    while (!Character.isLetter(path.charAt(letter))) {
      letter++;
    }
    v.put("percent-encoded letter", path.substring(0, letter) + String.format("%%%02X", (int) path.charAt(letter))
        + path.substring(letter + 1));
    if (path.lastIndexOf('/') > 0) {
      v.put("encoded slash", path.substring(0, path.lastIndexOf('/')) + "%2F" + path.substring(path.lastIndexOf('/') + 1));
    }
    return v;
  }

  static byte[] multipart(String boundary, String fileName, byte[] content) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"" + fileName
        + "\"\r\nContent-Type: application/octet-stream\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
    out.writeBytes(content);
    out.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.ISO_8859_1));
    return out.toByteArray();
  }

  @Test
  void everyOperationThroughEveryPathSpellingWithEveryCredential() {
    long job = create(WRITER_A, new JsonObject().put("image_uris", new JsonArray().add(SHARED + "dog.jpg")));
    String tokenA = streamToken(READER_A);
    String tokenB = streamToken(READER_B);
    List<Credential> credentials = List.of(
        new Credential("no key", Map.of(), "", 0, ""),
        new Credential("unknown key", bearer("not-a-key-of-this-service"), "", 0, ""),
        new Credential("basic auth", Map.of("Authorization", "Basic " + READER_A), "", 0, ""),
        new Credential("reader a", bearer(READER_A), "", 1, "team-a"),
        new Credential("writer a", bearer(WRITER_A), "", 2, "team-a"),
        new Credential("reader b", bearer(READER_B), "", 1, "team-b"),
        new Credential("writer b", bearer(WRITER_B), "", 2, "team-b"),
        new Credential("admin", bearer(ADMIN), "", 3, "ops"),
        new Credential("stream token a", Map.of(), "access_token=" + tokenA, -1, "team-a"),
        new Credential("stream token b", Map.of(), "access_token=" + tokenB, -1, "team-b"));
    Map<Integer, Integer> statuses = new TreeMap<>();
    int requests = 0;
    for (Contract.Op op : contract.ops) {
      String canonical = op.path(job);
      int needed = op.scope() == null ? 0 : switch (op.scope()) {
        case "read" -> 1;
        case "write" -> 2;
        default -> 3;
      };
      boolean ofTheJob = op.path().contains("{inference_job_id}");
      boolean takesToken = op.definition().encode().contains("access_token");
      Map<String, String> spellings = new LinkedHashMap<>();
      spellings.put("canonical", canonical);
      spellings.putAll(variants(canonical));
      for (var spelling : spellings.entrySet()) {
        for (Credential c : credentials) {
          String query = op.id().equals("uploadImages") ? "training_job_id=1"
              : op.id().equals("exportInferenceJob") ? "format=coco" : "";
          if (!c.query().isEmpty()) {
            query = query.isEmpty() ? c.query() : query + "&" + c.query();
          }
          Map<String, String> headers = new HashMap<>(c.headers());
          byte[] body = null;
          if (op.id().equals("uploadImages")) {
            headers.put("Content-Type", "multipart/form-data; boundary=matrix");
            body = multipart("matrix", "dog.jpg", dog);
          } else if (op.id().equals("createInferenceJob")) {
            headers.put("Content-Type", "application/json");
            body = Api.jobRequest(new JsonObject().put("image_uris", new JsonArray().add(SHARED + "dog.jpg")))
                .encode().getBytes(StandardCharsets.UTF_8);
          } else if (op.id().equals("createTrainingJob")) {
            headers.put("Content-Type", "application/json");
            body = new JsonObject().put("name", "matrix-" + UUID.randomUUID()).put("task_type", "detection").encode()
                .getBytes(StandardCharsets.UTF_8);
          } else if (op.method() == HttpMethod.POST) {
            headers.put("Content-Type", "application/json");
            body = "{}".getBytes(StandardCharsets.UTF_8);
          }
          String target = spelling.getValue() + (query.isEmpty() ? "" : "?" + query);
          WireHttp.Response r = WireHttp.send(api.port(), op.method().name(), target, headers, body);
          requests++;
          String what = op.id() + " via " + spelling.getKey() + " (" + target + ") with " + c.name() + ": " + r;
          statuses.merge(r.status(), 1, Integer::sum);
          boolean canonicalPath = spelling.getKey().equals("canonical");
          int rank = c.rank() == -1 ? (takesToken ? 1 : 0) : c.rank();
          boolean mayAct = canonicalPath && rank >= needed && (!ofTheJob || needed == 0 || c.sees("team-a"));
          if (r.status() >= 200 && r.status() < 300) {
            assertThat(mayAct).as("2xx without the right key: " + what).isTrue();
          }
          if (r.status() != 200 || !"text/event-stream".equals(r.header("content-type").split(";")[0])) {
            if (r.status() >= 400 && !(op.id().equals("healthReady") && r.status() == 503)) {
              assertThat(r.json().getJsonObject("error")).as(what).isNotNull();
            }
          }
          if (!canonicalPath) {
            assertThat(r.status()).as(what).isEqualTo(404);
          } else if (needed > 0 && rank == 0) {
            assertThat(r.status()).as(what).isEqualTo(401);
            assertThat(r.header("WWW-Authenticate")).as(what).startsWith("Bearer realm=");
          } else if (needed > rank) {
            assertThat(r.status()).as(what).isIn(401, 403);
          } else if (ofTheJob && !c.sees("team-a")) {
            assertThat(r.status()).as("another tenant's job: " + what).isEqualTo(404);
          }
        }
      }
    }
    System.out.println("SecurityIT matrix: " + requests + " requests, statuses " + statuses);
    assertThat(statuses).containsKeys(200, 401, 403, 404);
  }

  @Test
  void anotherTenantNeitherSeesNorTouchesAJob() {
    for (String path : List.of("/jobs/" + jobA, "/jobs/" + jobA + "/results", "/jobs/" + jobA + "/images/0")) {
      assertError(api.get(INF + path, bearer(READER_B)), 404, "inference_job_id");
      assertThat(api.get(INF + path, bearer(READER_A)).statusCode()).as(path).isEqualTo(200);
      assertThat(api.get(INF + path, bearer(ADMIN)).statusCode()).as(path).isEqualTo(200);
    }
    // the same answer as for a job that does not exist, message included
    HttpResponse<Buffer> foreign = api.get(INF + "/jobs/" + jobA, bearer(READER_B));
    HttpResponse<Buffer> missing = api.get(INF + "/jobs/987654321", bearer(READER_B));
    assertThat(foreign.bodyAsJsonObject().getJsonObject("error").getString("message"))
        .isEqualTo(missing.bodyAsJsonObject().getJsonObject("error").getString("message")
            .replace("987654321", Long.toString(jobA)));
    assertError(api.request(HttpMethod.POST, INF + "/jobs/" + jobA + "/cancel", bearer(WRITER_B), null), 404,
        "inference_job_id");
    assertThat(api.get(INF + "/jobs/" + jobA, bearer(READER_A)).bodyAsJsonObject().getString("status"))
        .isEqualTo("pending");
    // streams: a key or a stream token of team b gets 404 for team a's job, and its own job's stream
    Api.Stream s = api.stream(INF + "/jobs/" + jobA + "/events", null, bearer(READER_B));
    s.close();
    assertThat(s.status).isEqualTo(404);
    String tokenB = streamToken(READER_B);
    s = api.stream(INF + "/jobs/" + jobA + "/events?access_token=" + tokenB, null);
    s.close();
    assertThat(s.status).isEqualTo(404);
    s = api.stream(INF + "/jobs/" + jobB + "/events?access_token=" + tokenB, null);
    s.close();
    assertThat(s.status).isEqualTo(200);
    // listings
    assertThat(ids(api.get(INF + "/jobs?limit=1000", bearer(READER_B)))).contains(jobB).doesNotContain(jobA);
    assertThat(ids(api.get(INF + "/jobs?limit=1000", bearer(READER_A)))).contains(jobA).doesNotContain(jobB);
    assertThat(ids(api.get(INF + "/jobs?limit=1000", bearer(ADMIN)))).contains(jobA, jobB);
  }

  static List<Long> ids(HttpResponse<Buffer> page) {
    assertThat(page.statusCode()).as(page.bodyAsString()).isEqualTo(200);
    List<Long> out = new ArrayList<>();
    page.bodyAsJsonObject().getJsonArray("jobs").forEach(j -> out.add(((JsonObject) j).getLong("id")));
    return out;
  }

  @Test
  void theAllJobsStreamShowsATenantItsOwnJobsOnly() {
    Api.Stream b = api.stream(INF + "/events", null, bearer(READER_B));
    Api.Stream admin = api.stream(INF + "/events", null, bearer(ADMIN));
    Api.await(b.until(events -> events.stream().anyMatch(e -> e.type().equals("snapshot"))));
    // both streams live before the jobs are made (a job made earlier would be in a snapshot, not a status event)
    Api.await(admin.until(events -> events.stream().anyMatch(e -> e.type().equals("snapshot"))));
    List<Long> snapshot = new ArrayList<>();
    b.real().get(0).json().getJsonArray("jobs").forEach(j -> snapshot.add(((JsonObject) j).getLong("id")));
    assertThat(snapshot).contains(jobB).doesNotContain(jobA);
    // team a's job is created first: had it leaked, it would arrive before team b's, which comes after it
    long newA = create(WRITER_A, new JsonObject().put("image_uris", new JsonArray().add(SHARED + "dog.jpg")));
    long newB = create(WRITER_B, new JsonObject().put("image_uris", new JsonArray().add(SHARED + "dog.jpg")));
    Api.await(b.until(events -> events.stream().anyMatch(e -> e.type().equals("status") && e.json()
        .getLong("job_id") == newB)));
    Api.await(admin.until(events -> events.stream().anyMatch(e -> e.type().equals("status") && e.json()
        .getLong("job_id") == newB)));
    b.close();
    admin.close();
    assertThat(b.real().stream().filter(e -> e.type().equals("status")).map(e -> e.json().getLong("job_id")))
        .contains(newB).doesNotContain(newA);
    assertThat(admin.real().stream().filter(e -> e.type().equals("status")).map(e -> e.json().getLong("job_id")))
        .contains(newA, newB);
  }

  @Test
  void anotherTenantsUploadsAreNoImageSource() {
    long[] before = counts();
    assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("inference_session_id", sessionA)),
        bearer(WRITER_B)), 404, "input_data.inference_session_id");
    assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_uris", new JsonArray()
        .add(SHARED + "dog.jpg").add(fileA))), bearer(WRITER_B)), 403, "input_data.image_uris[1]");
    String prefixA = fileA.substring(0, fileA.lastIndexOf('/') + 1);
    for (String prefix : List.of(prefixA, "s3://inference-jobs/inference/", "s3://inference-jobs/")) {
      assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_paths_s3", prefix)),
          bearer(WRITER_B)), 403, "input_data.image_paths_s3");
    }
    assertThat(counts()).containsExactly(before);
    // its own tenant may use them every way, and the other key of that tenant too
    create(WRITER_A2, new JsonObject().put("inference_session_id", sessionA));
    create(WRITER_A2, new JsonObject().put("image_uris", new JsonArray().add(fileA)));
    create(WRITER_A, new JsonObject().put("image_paths_s3", prefixA));
    create(WRITER_B, new JsonObject().put("image_paths_s3", SHARED));
  }

  @Test
  void idempotencyKeysBelongToATenant() {
    String key = "idem-" + UUID.randomUUID();
    JsonObject x = Api.jobRequest(new JsonObject().put("image_uris", new JsonArray().add(SHARED + "dog.jpg")));
    JsonObject y = x.copy().put("input_data", x.getJsonObject("input_data").copy().put("confidence_threshold", 0.5));
    long a = createWithKey(WRITER_A, key, x, 201);
    long b = createWithKey(WRITER_B, key, x, 201);
    assertThat(b).isNotEqualTo(a);
    // the other key of tenant a gets tenant a's job back; another body is a conflict
    assertThat(createWithKey(WRITER_A2, key, x, 201)).isEqualTo(a);
    HttpResponse<Buffer> conflict = api.post(INF + "/jobs", y, Map.of("Authorization", "Bearer " + WRITER_A2,
        "Idempotency-Key", key));
    assertError(conflict, 409, "Idempotency-Key");
    // tenant b's conflict says nothing about tenant a
    HttpResponse<Buffer> bConflict = api.post(INF + "/jobs", y, Map.of("Authorization", "Bearer " + WRITER_B,
        "Idempotency-Key", key));
    assertError(bConflict, 409, "Idempotency-Key");
  }

  static long createWithKey(String apiKey, String idempotencyKey, JsonObject body, int expected) {
    HttpResponse<Buffer> r = api.post(INF + "/jobs", body, Map.of("Authorization", "Bearer " + apiKey,
        "Idempotency-Key", idempotencyKey));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(expected);
    return r.bodyAsJsonObject().getLong("id");
  }

  @Test
  void fiftyConcurrentCreatesWithOneKeyAndDifferentBodiesMakeOneJob() {
    String key = "race-" + UUID.randomUUID();
    List<Future<HttpResponse<Buffer>>> answers = new ArrayList<>();
    io.vertx.ext.web.client.WebClient web = io.vertx.ext.web.client.WebClient.wrap(api.vertx().createHttpClient(
        new io.vertx.core.http.HttpClientOptions().setDefaultPort(api.port()).setDefaultHost("127.0.0.1"),
        new io.vertx.core.http.PoolOptions().setHttp1MaxSize(64)));
    for (int i = 0; i < 50; i++) {
      JsonObject body = Api.jobRequest(new JsonObject().put("image_uris", new JsonArray().add(SHARED + "dog.jpg"))
          .put("confidence_threshold", 0.01 * (i + 1)));
      answers.add(web.post(INF + "/jobs").putHeader("Authorization", "Bearer " + WRITER_A)
          .putHeader("Idempotency-Key", key).sendJsonObject(body));
    }
    Api.await(Future.join(answers));
    Map<Integer, Integer> statuses = new TreeMap<>();
    answers.forEach(f -> statuses.merge(f.result().statusCode(), 1, Integer::sum));
    assertThat(statuses).containsExactlyInAnyOrderEntriesOf(Map.of(201, 1, 409, 49));
    long stored = Api.await(node.pool().preparedQuery("SELECT count(*) AS n FROM inference_jobs WHERE "
        + "idempotency_key = $1").execute(io.vertx.sqlclient.Tuple.of(key))).iterator().next().getLong("n");
    assertThat(stored).isEqualTo(1);
    web.close();
  }

  @Test
  void aWriteKeyCannotRunAFileOfItsOwnAsAModel() throws Exception {
    byte[] model;
    try (InputStream in = SecurityIT.class.getResourceAsStream("/models/centernet_coco80_yolov8.onnx")) {
      model = in.readAllBytes();
    }
    byte[] disguised = new byte[model.length + 8];
    System.arraycopy(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A}, 0, disguised, 0, 8);
    System.arraycopy(model, 0, disguised, 8, model.length);
    long[] before = counts();
    WireHttp.Response r = WireHttp.send(api.port(), "POST", INF + "/upload-images?training_job_id=1",
        Map.of("Authorization", "Bearer " + WRITER_A, "Content-Type", "multipart/form-data; boundary=x"),
        multipart("x", "model.png", disguised));
    assertThat(r.status()).as(r.toString()).isEqualTo(415);
    assertThat(r.json().getJsonObject("error").getJsonArray("details").getJsonObject(0).getString("field"))
        .isEqualTo("files[0]");
    assertThat(counts()).containsExactly(before);
    // an s3:// object as checkpoint is an admin's to run: an uploaded image, or the bundled model itself
    String pretrained = "s3://inference-jobs/" + node.config().pretrained().s3Key();
    for (String checkpoint : List.of(fileA, pretrained)) {
      assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_uris", new JsonArray()
          .add(SHARED + "dog.jpg"))).put("checkpoint_path", checkpoint), bearer(WRITER_A)), 403, "checkpoint_path");
    }
    assertThat(counts()).containsExactly(before);
  }

  @Test
  void theImagesEndpointServesImagesOnly() throws Exception {
    String pretrained = "s3://inference-jobs/" + node.config().pretrained().s3Key();
    byte[] model = Api.await(node.storage().getBytes(S3Uri.parse(pretrained).orElseThrow()));
    byte[] polyglot = new byte[model.length + 8];
    System.arraycopy(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A}, 0, polyglot, 0, 8);
    System.arraycopy(model, 0, polyglot, 8, model.length);
    S3Uri disguised = S3Uri.parse(SHARED + "model.png").orElseThrow();
    Api.await(node.storage().putBytes(disguised, polyglot, "image/png"));
    // an admin may name any object; what the images endpoint returns of them is still images only
    long job = create(ADMIN, new JsonObject().put("image_uris", new JsonArray().add(pretrained)
        .add(disguised.toString()).add(SHARED + "dog.jpg")));
    for (int i = 0; i < 2; i++) {
      HttpResponse<Buffer> r = api.get(INF + "/jobs/" + job + "/images/" + i, bearer(ADMIN));
      assertError(r, 422, "image_index");
      assertThat(r.getHeader("Content-Type")).startsWith("application/json");
      assertThat(r.body().length()).isLessThan(1000);
    }
    HttpResponse<Buffer> ok = api.get(INF + "/jobs/" + job + "/images/2", bearer(ADMIN));
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(ok.getHeader("Content-Type")).isEqualTo("image/jpeg");
    assertThat(ok.getHeader("X-Content-Type-Options")).isEqualTo("nosniff");
    assertThat(ok.body().getBytes()).isEqualTo(dog);
  }

  @Test
  void aCheckpointWithNoWorkerToInspectItIsRefusedAndNothingStays() {
    long[] before = counts();
    byte[] looksLikeOnnx = {0x08, 0x07, 0x12, 0x01, 'x'};
    HttpResponse<Buffer> r = api.request(HttpMethod.PUT, "/api/v1/training_jobs/1/checkpoints/byo", Map.of(
        "Authorization", "Bearer " + ADMIN, "Content-Type", "application/octet-stream"), Buffer.buffer(looksLikeOnnx));
    assertError(r, 503, null);
    assertThat(r.getHeader("Retry-After")).isNotNull();
    assertThat(r.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("no worker");
    assertThat(counts()).containsExactly(before);
    assertThat(Api.await(node.storage().listKeys(new S3Uri(node.storage().bucket(), "checkpoints/"), 100))).isEmpty();
    // a write key may not bring a model at all
    assertError(api.request(HttpMethod.PUT, "/api/v1/training_jobs/1/checkpoints/byo", Map.of(
        "Authorization", "Bearer " + WRITER_A, "Content-Type", "application/octet-stream"),
        Buffer.buffer(looksLikeOnnx)), 403, "Authorization");
  }

  @Test
  void readinessTellsAStrangerTheVerdictButNotTheWorkersAndAnAdminEverything() {
    // a worker heartbeating, with a node name that must not reach anyone without an admin key
    Api.await(node.pool().query("INSERT INTO workers (worker_id, node_id, device, provider, slots, free_slots) "
        + "VALUES ('secret-node-7/cpu', 'secret-node-7', 'cpu', 'CPU', 2, 2)").execute());
    try {
      for (var who : Map.of("no key", Map.<String, String>of(), "a wrong key", bearer("not-a-key"),
          "a reader", bearer(READER_A), "a writer", bearer(WRITER_B)).entrySet()) {
        for (String path : List.of("/health/ready", "/health/ready/", "//health/ready", "/health/%72eady")) {
          HttpResponse<Buffer> r = api.get(path, who.getValue());
          if (!path.equals("/health/ready")) {
            assertThat(r.statusCode()).as("%s through %s", who.getKey(), path).isEqualTo(404);
            assertThat(r.bodyAsString()).doesNotContain("secret-node-7");
            continue;
          }
          assertThat(r.statusCode()).as(who.getKey()).isEqualTo(200);
          JsonObject body = r.bodyAsJsonObject();
          assertThat(body.fieldNames()).as(who.getKey())
              .containsExactlyInAnyOrder("status", "postgres", "s3", "workers_seen");
          assertThat(body.getString("postgres")).isEqualTo("up");
          assertThat(body.getInteger("workers_seen")).isGreaterThanOrEqualTo(1);
          assertThat(r.bodyAsString()).doesNotContain("secret-node-7");
        }
      }
      JsonObject admin = api.get("/health/ready", bearer(ADMIN)).bodyAsJsonObject();
      assertThat(admin.getJsonArray("workers").stream().map(w -> ((JsonObject) w).getString("node_id")))
          .contains("secret-node-7");
      assertThat(admin.getInteger("workers_seen")).isEqualTo(admin.getJsonArray("workers").size());
    } finally {
      Api.await(node.pool().query("DELETE FROM workers WHERE worker_id = 'secret-node-7/cpu'").execute());
    }
  }

  @Test
  void everyAnswerCarriesTheSecurityHeaders() {
    for (String path : List.of("/", "/app.js", "/health/live", INF + "/jobs", "/nothing-here")) {
      HttpResponse<Buffer> r = api.get(path, bearer(READER_A));
      assertThat(r.getHeader("X-Content-Type-Options")).as(path).isEqualTo("nosniff");
      assertThat(r.getHeader("X-Frame-Options")).as(path).isEqualTo("DENY");
      assertThat(r.getHeader("Referrer-Policy")).as(path).isEqualTo("no-referrer");
      assertThat(r.getHeader("Content-Security-Policy")).as(path).contains("default-src 'self'")
          .contains("frame-ancestors 'none'").doesNotContain("unsafe-inline");
    }
  }

  @Test
  void s3UrisWithDotSegmentsAreRefusedNamingTheField() {
    long[] before = counts();
    String sneaky = SHARED + "../inference/";
    assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_paths_s3", sneaky)),
        bearer(WRITER_B)), 400, "input_data.image_paths_s3");
    assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_uris", new JsonArray()
        .add(SHARED + "./dog.jpg"))), bearer(WRITER_B)), 400, "input_data.image_uris[0]");
    assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_uris", new JsonArray()
        .add(SHARED + "dog.jpg"))).put("checkpoint_path", "s3://inference-jobs/models/../x.onnx"), bearer(ADMIN)),
        400, "checkpoint_path");
    assertThat(counts()).containsExactly(before);
  }
}
