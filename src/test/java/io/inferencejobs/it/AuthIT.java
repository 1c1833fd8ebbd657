package io.inferencejobs.it;

import io.inferencejobs.api.StreamTokens;
import io.inferencejobs.app.Node;
import io.inferencejobs.config.Auth;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.inferencejobs.it.Api.INF;
import static io.inferencejobs.it.BadInputIT.assertError;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A node of its own with API keys (admin, write, read): every protected operation of the contract refuses a request
 * without a key (401) or with too small a scope (403) and serves a valid one; event streams take short-lived signed
 * tokens; checkpoints and images are read from the allowed buckets only; CORS answers the configured origin only.
 */
class AuthIT {
  static final String ADMIN = "admin-key-7Qm2xL9pW4vR8sT1";
  static final String WRITER = "write-key-Hc3nB6yK0dF5gJ2";
  static final String READER = "read-key-Zt8uE1oA4iN7wP3q";
  static final String SECRET = "a-token-secret-of-at-least-32-characters";
  static final String ORIGIN = "https://ui.example.com";
  static Node node;
  static Api api;
  static Contract contract;
  static String ownImage;

  @BeforeAll
  static void start() throws Exception {
    Map<String, String> env = new HashMap<>(TestService.settings("auth"));
    env.put("ROLES", "api");
    // the write and read keys are one team's: a tenant named in the key entries
    env.put("API_KEYS", "ops:admin:" + Auth.hash(ADMIN) + ",ci:write:" + Auth.hash(WRITER) + ":team,dash:read:"
        + Auth.hash(READER) + ":team");
    env.put("AUTH_TOKEN_SECRET", SECRET);
    env.put("METRICS_PUBLIC", "false");
    env.put("S3_ALLOWED_BUCKETS", "shared-models");
    env.put("S3_SHARED_INPUTS", "s3://inference-jobs/photos/");
    env.put("CORS_ORIGINS", ORIGIN);
    node = TestService.start(env);
    api = new Api(node.httpPort());
    contract = new Contract(api.vertx());
    ownImage = "s3://" + node.storage().bucket() + "/photos/dog.jpg";
    Api.await(node.storage().putBytes(S3Uri.parse(ownImage).orElseThrow(),
        Files.readAllBytes(JobFlowIT.IMAGES.resolve("dog.jpg")), "image/jpeg"));
  }

  @AfterAll
  static void stop() {
    api.close();
    Api.await(node.closeAsync());
  }

  static Map<String, String> bearer(String key) {
    return Map.of("Authorization", "Bearer " + key);
  }

  static HttpResponse<Buffer> call(Contract.Op op, Map<String, String> headers) {
    Map<String, String> h = new HashMap<>(headers);
    Buffer body = null;
    if (op.method() == HttpMethod.POST && !op.id().equals("uploadImages")) {
      h.put("Content-Type", "application/json");
      body = Buffer.buffer("{}");
    }
    if (op.stream()) {
      // a refused stream answers at once; an accepted one is never opened here
      Api.Stream s = api.stream(op.path(1), null, h);
      s.close();
      throw new IllegalStateException("use stream() for " + op.id());
    }
    return api.request(op.method(), op.path(1) + (op.id().equals("uploadImages") ? "?training_job_id=1" : ""), h,
        body);
  }

  static void assertUnauthorized(int status, Map<String, String> headers, String body) {
    assertThat(status).as(body).isEqualTo(401);
    assertThat(headers.get("www-authenticate")).startsWith("Bearer realm=");
    assertThat(new JsonObject(body).getJsonObject("error").getString("code")).isEqualTo("unauthorized");
  }

  @Test
  void everyProtectedOperationRefusesAMissingOrUnknownKey() {
    int checked = 0;
    for (Contract.Op op : contract.ops) {
      for (Map<String, String> headers : List.of(Map.<String, String>of(), bearer("not-a-configured-key"),
          Map.of("Authorization", "Basic " + READER))) {
        if (op.stream()) {
          Api.Stream s = api.stream(op.path(1), null, headers);
          s.close();
          if (!op.isPublic()) {
            assertThat(s.status).as(op.id()).isEqualTo(401);
            assertThat(s.headers.get("www-authenticate")).as(op.id()).startsWith("Bearer realm=");
          }
          continue;
        }
        HttpResponse<Buffer> r = call(op, headers);
        if (op.isPublic()) {
          assertThat(r.statusCode()).as(op.id()).isNotIn(401, 403);
        } else {
          assertError(r, 401, "Authorization");
          assertThat(r.getHeader("WWW-Authenticate")).as(op.id()).startsWith("Bearer realm=");
          checked++;
        }
      }
    }
    assertThat(checked).isGreaterThanOrEqualTo(3 * 12);
  }

  @Test
  void aReadKeyIsRefusedOnWriteOperationsAndAWriteKeyOnAdminOnes() {
    Set<String> refused = new LinkedHashSet<>();
    for (Contract.Op op : contract.ops) {
      if ("write".equals(op.scope()) || "admin".equals(op.scope())) {
        HttpResponse<Buffer> r = call(op, bearer(READER));
        assertError(r, 403, "Authorization");
        assertThat(r.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("dash");
        refused.add(op.id());
      }
      if ("admin".equals(op.scope())) {
        assertError(call(op, bearer(WRITER)), 403, "Authorization");
      }
    }
    assertThat(refused).contains("createInferenceJob", "uploadImages", "cancelInferenceJob", "createTrainingJob");
  }

  @Test
  void validKeysReachEveryOperation() {
    Set<String> served = new LinkedHashSet<>();
    HttpResponse<Buffer> r = api.post("/api/v1/training_jobs", new JsonObject().put("name", "auth-it-detector")
        .put("task_type", "detection"), bearer(ADMIN));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    served.add("createTrainingJob");
    r = api.upload(1, List.of(Map.entry("dog.jpg", JobFlowIT.IMAGES.resolve("dog.jpg"))), bearer(WRITER));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    served.add("uploadImages");
    r = api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_uris", new JsonArray().add(ownImage))),
        bearer(WRITER));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    served.add("createInferenceJob");
    long job = r.bodyAsJsonObject().getLong("id");
    for (Contract.Op op : contract.ops) {
      if (op.isPublic() || op.method() != HttpMethod.GET) {
        continue;
      }
      if (op.stream()) {
        Api.Stream s = api.stream(op.path(job), null, bearer(READER));
        s.close();
        assertThat(s.status).as(op.id()).isEqualTo(200);
        assertThat(s.headers.get("content-type")).startsWith("text/event-stream");
      } else {
        r = api.get(op.path(job) + (op.id().equals("exportInferenceJob") ? "?format=jsonl" : ""), bearer(READER));
        assertThat(r.statusCode()).as(op.id() + " " + r.bodyAsString()).isEqualTo(200);
      }
      served.add(op.id());
    }
    r = api.request(HttpMethod.POST, "/api/v1/stream-tokens", bearer(READER), null);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    served.add("createStreamToken");
    // an admin reaches the checkpoint upload; this node has no worker to inspect the file, so it answers 503
    r = api.request(HttpMethod.PUT, "/api/v1/training_jobs/1/checkpoints/best", Map.of("Authorization",
        "Bearer " + ADMIN, "Content-Type", "application/octet-stream"), Buffer.buffer(new byte[] {0x08, 0x07, 0x12}));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(503);
    served.add("uploadCheckpoint");
    r = api.request(HttpMethod.POST, INF + "/jobs/" + job + "/cancel", bearer(WRITER), null);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(202);
    served.add("cancelInferenceJob");
    // admin implies write implies read
    assertThat(api.get(INF + "/jobs/" + job, bearer(ADMIN)).statusCode()).isEqualTo(200);
    assertThat(api.get(INF + "/jobs/" + job, bearer(WRITER)).statusCode()).isEqualTo(200);
    // a cancelled job is not retried (409 past the key check); it is deleted
    r = api.request(HttpMethod.POST, INF + "/jobs/" + job + "/retry", bearer(WRITER), null);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(409);
    served.add("retryInferenceJob");
    r = api.request(HttpMethod.DELETE, INF + "/jobs/" + job, bearer(WRITER), null);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(204);
    served.add("deleteInferenceJob");
    assertThat(served).containsExactlyInAnyOrderElementsOf(contract.ops.stream().filter(o -> !o.isPublic())
        .map(Contract.Op::id).toList());
  }

  @Test
  void streamsTakeAValidTokenAndRefuseExpiredOrForgedOnes() {
    HttpResponse<Buffer> r = api.request(HttpMethod.POST, "/api/v1/stream-tokens", bearer(READER), null);
    assertThat(r.statusCode()).isEqualTo(201);
    JsonObject issued = r.bodyAsJsonObject();
    assertThat(issued.getString("scope")).isEqualTo("read");
    assertThat(issued.getInteger("expires_in")).isBetween(60, 600);
    String token = issued.getString("token");
    String all = INF + "/events?access_token=";

    Api.Stream ok = api.stream(all + token, null);
    ok.close();
    assertThat(ok.status).isEqualTo(200);
    assertThat(ok.headers.get("content-type")).startsWith("text/event-stream");

    long now = System.currentTimeMillis() / 1000;
    String expired = new StreamTokens(SECRET.getBytes(StandardCharsets.UTF_8), 300)
        .sign(new JsonObject().put("sub", "dash").put("tnt", "team").put("scope", "read").put("exp", now - 1));
    String forged = new StreamTokens("another-secret-that-is-long-enough-000".getBytes(StandardCharsets.UTF_8), 300)
        .issue("ops", "ops", now);
    String[] parts = token.split("\\.");
    String tampered = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(new JsonObject()
        .put("sub", "ops").put("tnt", "ops").put("scope", "read").put("exp", now + 3600).encode()
        .getBytes(StandardCharsets.UTF_8))
        + "." + parts[1];
    for (var bad : Map.of("token expired", expired, "signature", forged, "signature ", tampered,
        "malformed", "garbage").entrySet()) {
      Api.Stream s = api.stream(all + bad.getValue(), null);
      s.close();
      assertThat(s.status).as(bad.getKey()).isEqualTo(401);
      assertThat(s.headers.get("www-authenticate")).contains("invalid_token");
    }
    // a token names its key's tenant: a valid signature over another tenant opens nothing
    String otherTenant = new StreamTokens(SECRET.getBytes(StandardCharsets.UTF_8), 300)
        .sign(new JsonObject().put("sub", "dash").put("tnt", "ops").put("scope", "read").put("exp", now + 300));
    Api.Stream moved = api.stream(all + otherTenant, null);
    moved.close();
    assertThat(moved.status).isEqualTo(401);
    HttpResponse<Buffer> expiredAnswer = api.get(all + expired);
    assertError(expiredAnswer, 401, "Authorization");
    assertThat(expiredAnswer.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("expired");
    // a stream token opens streams only: not a key for anything else
    assertError(api.get(INF + "/jobs", bearer(token)), 401, "Authorization");
    assertError(api.get(INF + "/jobs?access_token=" + token), 401, "Authorization");
    // it may also come as a Bearer header on a stream
    Api.Stream header = api.stream(INF + "/events", null, bearer(token));
    header.close();
    assertThat(header.status).isEqualTo(200);
  }

  @Test
  void checkpointsAndImagesOutsideTheAllowedBucketsAreRefused() {
    long[] before = counts();
    JsonObject request = Api.jobRequest(new JsonObject().put("image_uris", new JsonArray().add(ownImage)));
    assertError(api.post(INF + "/jobs", request.copy().put("checkpoint_path", "s3://someone-elses-bucket/model.onnx"),
        bearer(WRITER)), 403, "checkpoint_path");
    assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_uris", new JsonArray()
        .add(ownImage).add("s3://someone-elses-bucket/secret.jpg"))), bearer(WRITER)), 403,
        "input_data.image_uris[1]");
    assertError(api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_paths_s3",
        "s3://someone-elses-bucket/photos/")), bearer(WRITER)), 403, "input_data.image_paths_s3");
    assertError(api.post("/api/v1/training_jobs", new JsonObject().put("name", "sneaky").put("task_type", "detection")
        .put("checkpoints", new JsonObject().put("best", "s3://someone-elses-bucket/best.onnx")), bearer(ADMIN)), 403,
        "checkpoints.best");
    // a raw s3:// checkpoint is an admin's to run; in an allowed bucket it gets as far as being looked up
    assertError(api.post(INF + "/jobs", request.copy().put("checkpoint_path", "s3://shared-models/none.onnx"),
        bearer(WRITER)), 403, "checkpoint_path");
    assertError(api.post(INF + "/jobs", request.copy().put("checkpoint_path", "s3://shared-models/none.onnx"),
        bearer(ADMIN)), 422, "checkpoint_path");
    assertThat(counts()).containsExactly(before);
  }

  @Test
  void corsAnswersTheConfiguredOriginOnly() {
    Map<String, String> preflight = Map.of("Origin", ORIGIN, "Access-Control-Request-Method", "POST",
        "Access-Control-Request-Headers", "authorization,content-type");
    HttpResponse<Buffer> r = api.request(HttpMethod.OPTIONS, INF + "/jobs", preflight, null);
    assertThat(r.statusCode()).isBetween(200, 204);
    assertThat(r.getHeader("Access-Control-Allow-Origin")).isEqualTo(ORIGIN);
    r = api.request(HttpMethod.OPTIONS, INF + "/jobs", Map.of("Origin", "https://evil.example.com",
        "Access-Control-Request-Method", "POST"), null);
    assertThat(r.getHeader("Access-Control-Allow-Origin")).isNull();
    r = api.get(INF + "/jobs", Map.of("Origin", ORIGIN, "Authorization", "Bearer " + READER));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.getHeader("Access-Control-Allow-Origin")).isEqualTo(ORIGIN);
  }

  @Test
  void metricsNeedAKeyWhenNotPublic() {
    assertError(api.get("/metrics"), 401, "Authorization");
    HttpResponse<Buffer> r = api.get("/metrics", bearer(READER));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.bodyAsString()).contains("inference_jobs{").contains("jvm_memory_used_bytes");
  }

  static long[] counts() {
    var row = Api.await(node.pool().query("""
        SELECT (SELECT count(*) FROM training_jobs) AS t, (SELECT count(*) FROM inference_jobs) AS j""").execute())
        .iterator().next();
    return new long[] {row.getLong("t"), row.getLong("j")};
  }
}
