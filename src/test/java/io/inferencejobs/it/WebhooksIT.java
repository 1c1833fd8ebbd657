package io.inferencejobs.it;

import io.inferencejobs.app.Node;
import io.inferencejobs.storage.S3Uri;
import io.inferencejobs.webhooks.Webhooks;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import static io.inferencejobs.it.Api.INF;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Webhooks and export files written to S3, on a node of its own that may call 127.0.0.1 (WEBHOOK_ALLOWED_HOSTS) and
 * retries after 200 ms: a receiver in the test checks the signatures, answers 500 twice, and counts each event once per
 * id. The shared node, which allows no private host, refuses loopback and private URLs.
 */
class WebhooksIT {
  static final String SECRET = "whsec_" + Base64.getEncoder().encodeToString(
      "a key of thirty-two bytes, exact".getBytes(StandardCharsets.UTF_8));
  static Node node;
  static Api api;
  static Receiver receiver;

  @BeforeAll
  static void start() {
    Map<String, String> env = TestService.settings("webhooks");
    env.put("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1");
    env.put("WEBHOOK_RETRY_BASE_MS", "200");
    env.put("DELIVERY_POLL_MS", "100");
    env.put("WEBHOOK_RETRY_MAX_MS", "1000");
    env.put("WEBHOOK_MAX_ATTEMPTS", "4");
    env.put("WEBHOOK_TIMEOUT_SECONDS", "5");
    node = TestService.start(env);
    api = new Api(node.httpPort());
    receiver = new Receiver();
    receiver.server = Api.await(api.vertx().createHttpServer().requestHandler(req -> req.body().onSuccess(body -> {
      Received r = new Received(req.path(), req.getHeader("webhook-id"), req.getHeader("webhook-timestamp"),
          req.getHeader("webhook-signature"), req.getHeader("content-type"), body.toString(StandardCharsets.UTF_8));
      int status = receiver.answer(r);
      req.response().setStatusCode(status).end("ok");
    })).listen(0, "127.0.0.1"));
  }

  @AfterAll
  static void stop() {
    if (receiver != null && receiver.server != null) {
      Api.await(receiver.server.close());
    }
    if (api != null) {
      api.close();
    }
    if (node != null) {
      Api.await(node.closeAsync());
    }
  }

  record Received(String path, String id, String timestamp, String signature, String contentType, String body) {
    JsonObject json() {
      return new JsonObject(body);
    }
  }

  /** Records every delivery; a path ending in /flaky answers 500 to the first two tries of each id. */
  static final class Receiver {
    HttpServer server;
    final List<Received> received = new ArrayList<>();
    final Map<String, Integer> tries = new HashMap<>();
    final Map<String, Integer> accepted = new HashMap<>();
    /** Whether a path ending in /later accepts deliveries yet. */
    volatile boolean laterOpen;
    private final List<Map.Entry<Predicate<List<Received>>, Promise<Void>>> waiters = new ArrayList<>();

    synchronized int answer(Received r) {
      received.add(r);
      int n = tries.merge(r.id(), 1, Integer::sum);
      int status = r.path().endsWith("/flaky") && n <= 2 ? 500 : r.path().endsWith("/down") ? 503
          : r.path().endsWith("/later") && !laterOpen ? 503 : 204;
      if (status < 300) {
        accepted.merge(r.id(), 1, Integer::sum);
      }
      waiters.removeIf(w -> {
        if (w.getKey().test(received)) {
          w.getValue().tryComplete();
          return true;
        }
        return false;
      });
      return status;
    }

    synchronized Future<Void> until(Predicate<List<Received>> condition) {
      Promise<Void> p = Promise.promise();
      if (condition.test(received)) {
        p.complete();
      } else {
        waiters.add(Map.entry(condition, p));
      }
      return p.future();
    }

    synchronized List<Received> at(String path) {
      return received.stream().filter(r -> r.path().equals(path)).toList();
    }
  }

  String url(String path) {
    return "http://127.0.0.1:" + receiver.server.actualPort() + path;
  }

  static JsonObject job(JsonObject extra) {
    JsonObject body = Api.jobRequest(new JsonObject().put("image_uris", new JsonArray()
        .add("s3://" + node.storage().bucket() + "/webhooks-it/dog.jpg")));
    extra.forEach(e -> body.put(e.getKey(), e.getValue()));
    return body;
  }

  static void putDog() throws Exception {
    Api.await(node.storage().putBytes(new S3Uri(node.storage().bucket(), "webhooks-it/dog.jpg"),
        java.nio.file.Files.readAllBytes(JobFlowIT.IMAGES.resolve("dog.jpg")), "image/jpeg"));
  }

  @Test
  void aDeliveryPendingWhenTheNodeStopsIsSentByTheRestartedNodeWithTheSameId() throws Exception {
    putDog();
    Map<String, String> env = TestService.settings("webhooks-restart");
    env.put("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1");
    env.put("WEBHOOK_RETRY_BASE_MS", "300");
    env.put("WEBHOOK_RETRY_MAX_MS", "600");
    env.put("WEBHOOK_MAX_ATTEMPTS", "50");
    env.put("DELIVERY_POLL_MS", "100");
    Node first = TestService.start(env);
    long id;
    String deliveryId;
    String body;
    try (Api a = new Api(first.httpPort())) {
      Api.await(first.storage().putBytes(new S3Uri(first.storage().bucket(), "webhooks-it/dog.jpg"),
          java.nio.file.Files.readAllBytes(JobFlowIT.IMAGES.resolve("dog.jpg")), "image/jpeg"));
      JsonObject request = Api.jobRequest(new JsonObject().put("image_uris", new JsonArray()
          .add("s3://" + first.storage().bucket() + "/webhooks-it/dog.jpg")));
      request.put("webhook", new JsonObject().put("url", url("/hooks/later")).put("secret", SECRET));
      id = a.createJob(request);
      a.awaitTerminal(id);
      // the receiver is down: at least one try was refused
      Api.await(receiver.until(all -> all.stream().anyMatch(r -> r.path().equals("/hooks/later")
          && r.json().getJsonObject("data").getLong("job_id") == id)));
      Received refused = receiver.at("/hooks/later").stream()
          .filter(r -> r.json().getJsonObject("data").getLong("job_id") == id).findFirst().orElseThrow();
      deliveryId = refused.id();
      body = refused.body();
    } finally {
      Api.await(first.closeAsync());
    }
    // the receiver comes back while the node is down; the restarted node (same database) sends the same delivery
    receiver.laterOpen = true;
    Node again = TestService.start(env);
    try (Api a = new Api(again.httpPort())) {
      Api.await(receiver.until(all -> receiver.accepted.containsKey(deliveryId)));
      List<Received> tries = receiver.at("/hooks/later").stream().filter(r -> r.id().equals(deliveryId)).toList();
      assertThat(tries.size()).isGreaterThanOrEqualTo(2);
      assertThat(tries.stream().map(Received::body).distinct()).containsExactly(body);
      assertThat(receiver.accepted.get(deliveryId)).isEqualTo(1);
      JsonObject d = a.get(INF + "/jobs/" + id + "/webhook-deliveries").bodyAsJsonObject().getJsonArray("deliveries")
          .stream().map(o -> (JsonObject) o).filter(x -> x.getString("id").equals(deliveryId)).findFirst()
          .orElseThrow();
      assertThat(d.getString("state")).isEqualTo("delivered");
      assertThat(d.getInteger("attempts")).isEqualTo(tries.size());
    } finally {
      Api.await(again.closeAsync());
    }
  }

  @Test
  void aSignedDeliveryIsRetriedAfterTwo500sAndNamesTheExportFiles() throws Exception {
    putDog();
    String prefix = "s3://" + node.storage().bucket() + "/exports/default/it-" + System.nanoTime() + "/";
    long id = api.createJob(job(new JsonObject()
        .put("webhook", new JsonObject().put("url", url("/hooks/flaky")).put("secret", SECRET)
            .put("events", new JsonArray().add("completed").add("progress")))
        .put("output", new JsonObject().put("s3_prefix", prefix).put("formats", new JsonArray().add("coco")
            .add("csv")))));
    JsonObject created = api.get(INF + "/jobs/" + id).bodyAsJsonObject();
    assertThat(created.getJsonObject("webhook").getString("url")).isEqualTo(url("/hooks/flaky"));
    assertThat(created.encode()).doesNotContain(SECRET).doesNotContain("secret");
    api.awaitTerminal(id);
    Api.await(receiver.until(all -> all.stream().anyMatch(r -> r.path().equals("/hooks/flaky")
        && r.json().getString("type").equals("job.completed") && receiver.accepted.containsKey(r.id()))));

    List<Received> mine = receiver.at("/hooks/flaky").stream()
        .filter(r -> r.json().getJsonObject("data").getLong("job_id") == id).toList();
    byte[] key = Webhooks.key(SECRET);
    for (Received r : mine) {
      assertThat(r.contentType()).isEqualTo("application/json");
      assertThat(r.signature()).isEqualTo(Webhooks.signature(key, r.id(), Long.parseLong(r.timestamp()), r.body()));
      // the signature is HMAC-SHA256 over id.timestamp.body with the key bytes, computed here independently
      javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
      mac.init(new javax.crypto.spec.SecretKeySpec(key, "HmacSHA256"));
      String expected = "v1," + Base64.getEncoder().encodeToString(mac.doFinal(
          (r.id() + "." + r.timestamp() + "." + r.body()).getBytes(StandardCharsets.UTF_8)));
      assertThat(r.signature()).isEqualTo(expected);
      assertThat(Math.abs(System.currentTimeMillis() / 1000 - Long.parseLong(r.timestamp()))).isLessThan(300);
    }
    List<Received> completed = mine.stream().filter(r -> r.json().getString("type").equals("job.completed")).toList();
    // three tries of one delivery: the same id and body each time, accepted once
    assertThat(completed).hasSize(3);
    assertThat(completed.stream().map(Received::id).distinct()).hasSize(1);
    assertThat(completed.stream().map(Received::body).distinct()).hasSize(1);
    String completedId = completed.get(0).id();
    assertThat(receiver.accepted.get(completedId)).isEqualTo(1);
    JsonObject data = completed.get(0).json().getJsonObject("data");
    assertThat(data.getString("status")).isEqualTo("completed");
    // the callback names the export files, written before it was sent
    JsonArray files = data.getJsonArray("outputs");
    assertThat(files).hasSize(2);
    for (Object o : files) {
      JsonObject f = (JsonObject) o;
      assertThat(f.getString("s3_uri")).startsWith(prefix);
      assertThat(Api.await(node.storage().head(S3Uri.parse(f.getString("s3_uri")).orElseThrow())).orElseThrow().size())
          .isEqualTo(f.getLong("bytes"));
    }
    JsonObject coco = new JsonObject(Buffer.buffer(Api.await(node.storage().getBytes(S3Uri.parse(
        prefix + "job-" + id + ".coco.json").orElseThrow()))));
    assertThat(coco.getJsonArray("images")).hasSize(1);
    assertThat(coco.getJsonArray("annotations")).hasSize(api.allResults(id).get(0).getJsonArray("predictions").size());
    // every id was accepted once
    mine.stream().map(Received::id).distinct().forEach(d -> assertThat(receiver.accepted.get(d)).as(d).isEqualTo(1));

    HttpResponse<Buffer> deliveries = api.get(INF + "/jobs/" + id + "/webhook-deliveries");
    assertThat(deliveries.statusCode()).isEqualTo(200);
    JsonArray list = deliveries.bodyAsJsonObject().getJsonArray("deliveries");
    JsonObject hook = list.stream().map(o -> (JsonObject) o).filter(d -> d.getString("id").equals(completedId))
        .findFirst().orElseThrow();
    assertThat(hook.getString("kind")).isEqualTo("webhook");
    assertThat(hook.getString("event")).isEqualTo("completed");
    assertThat(hook.getString("state")).isEqualTo("delivered");
    assertThat(hook.getInteger("attempts")).isEqualTo(3);
    assertThat(hook.getInteger("last_status_code")).isEqualTo(204);
    JsonObject output = list.stream().map(o -> (JsonObject) o).filter(d -> d.getString("kind").equals("output"))
        .findFirst().orElseThrow();
    assertThat(output.getString("state")).isEqualTo("delivered");
    assertThat(output.getJsonArray("files")).hasSize(2);
  }

  @Test
  void aReceiverThatStaysDownIsGivenUpOnAfterTheMostAttempts() throws Exception {
    putDog();
    long id = api.createJob(job(new JsonObject().put("webhook", new JsonObject().put("url", url("/hooks/down"))
        .put("secret", SECRET))));
    api.awaitTerminal(id);
    JsonObject failed = Eventually.until(api.vertx(), "the delivery to give up", java.time.Duration.ofSeconds(120),
        () -> api.get(INF + "/jobs/" + id + "/webhook-deliveries").bodyAsJsonObject().getJsonArray("deliveries")
            .getJsonObject(0), d -> d.getString("state").equals("failed"));
    assertThat(failed.getInteger("attempts")).isEqualTo(node.config().results().webhookMaxAttempts());
    assertThat(failed.getInteger("last_status_code")).isEqualTo(503);
    assertThat(failed.getString("last_error")).contains("503");
  }

  @Test
  void webhooksToPrivateAddressesAndBadBodiesAreRefusedAndNothingIsStored() {
    Node shared = TestService.shared();
    try (Api other = new Api(shared.httpPort())) {
      long before = jobs(shared);
      Map<String, String> urls = new java.util.LinkedHashMap<>();
      urls.put("http://127.0.0.1:" + receiver.server.actualPort() + "/hook", "loopback");
      urls.put("http://localhost/hook", "loopback");
      urls.put("http://[::1]/hook", "loopback");
      urls.put("http://10.1.2.3/hook", "private");
      urls.put("http://192.168.0.10/hook", "private");
      urls.put("http://169.254.169.254/latest/meta-data", "link-local");
      urls.put("http://[::ffff:127.0.0.1]/hook", "loopback");
      urls.put("http://100.64.0.1/hook", "private");
      urls.put("ftp://example.com/hook", "http");
      urls.put("file:///etc/passwd", "http");
      urls.put("http://user:pw@example.com/hook", "user info");
      urls.put("not a url", "URL");
      for (var u : urls.entrySet()) {
        HttpResponse<Buffer> r = other.post(INF + "/jobs", shared(new JsonObject().put("webhook", new JsonObject()
            .put("url", u.getKey()).put("secret", SECRET))));
        assertThat(r.statusCode()).as(u.getKey() + ": " + r.bodyAsString()).isEqualTo(400);
        JsonObject detail = r.bodyAsJsonObject().getJsonObject("error").getJsonArray("details").getJsonObject(0);
        assertThat(detail.getString("field")).as(u.getKey()).isEqualTo("webhook.url");
        assertThat(detail.getString("reason")).as(u.getKey()).containsIgnoringCase(u.getValue());
      }
      Map<JsonObject, String> bodies = new java.util.LinkedHashMap<>();
      bodies.put(new JsonObject().put("webhook", new JsonObject().put("url", "https://example.com/h")
          .put("secret", "not-whsec")), "webhook.secret");
      bodies.put(new JsonObject().put("webhook", new JsonObject().put("url", "https://example.com/h")
          .put("secret", "whsec_c2hvcnQ=")), "webhook.secret");
      bodies.put(new JsonObject().put("webhook", new JsonObject().put("url", "https://example.com/h")
          .put("secret", SECRET).put("events", new JsonArray().add("finished"))), "webhook");
      bodies.put(new JsonObject().put("webhok", new JsonObject()), "webhok");
      bodies.put(new JsonObject().put("output", new JsonObject().put("s3_prefix", "s3://inference-jobs/inference/x/")
          .put("formats", new JsonArray().add("coco"))), "output.s3_prefix");
      bodies.put(new JsonObject().put("output", new JsonObject().put("s3_prefix", "s3://inference-jobs/exports/x/")
          .put("formats", new JsonArray().add("pdf"))), "output");
      for (var b : bodies.entrySet()) {
        HttpResponse<Buffer> r = other.post(INF + "/jobs", shared(b.getKey()));
        assertThat(r.statusCode()).as(b.getKey() + ": " + r.bodyAsString()).isIn(400, 403);
        assertThat(r.bodyAsJsonObject().getJsonObject("error").getJsonArray("details").getJsonObject(0)
            .getString("field")).as(b.getKey().encode()).startsWith(b.getValue());
      }
      // a misspelt setting inside input_data is refused too, never ignored
      JsonObject misspelt = Api.jobRequest(new JsonObject().put("image_uris", new JsonArray()
          .add("s3://" + shared.storage().bucket() + "/webhooks-it/dog.jpg")).put("confidence_treshold", 0.9));
      HttpResponse<Buffer> r = other.post(INF + "/jobs", misspelt);
      assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(400);
      assertThat(r.bodyAsString()).contains("confidence_treshold");
      assertThat(jobs(shared)).isEqualTo(before);
    }
  }

  static JsonObject shared(JsonObject extra) {
    JsonObject body = Api.jobRequest(new JsonObject().put("image_uris", new JsonArray()
        .add("s3://inference-jobs/webhooks-it/dog.jpg")));
    extra.forEach(e -> body.put(e.getKey(), e.getValue()));
    return body;
  }

  static long jobs(Node n) {
    return Api.await(n.pool().query("SELECT count(*) AS n FROM inference_jobs").execute()).iterator().next()
        .getLong("n");
  }

  @Test
  void aCancelledJobCallsBackWithItsEvent() {
    JsonArray uris = new JsonArray();
    for (int i = 0; i < 300; i++) {
      uris.add("s3://" + node.storage().bucket() + "/webhooks-it/nothing-" + i + ".jpg");
    }
    JsonObject body = Api.jobRequest(new JsonObject().put("image_uris", uris));
    body.put("webhook", new JsonObject().put("url", url("/hooks/cancel")).put("secret", SECRET)
        .put("events", new JsonArray().add("cancelled").add("completed").add("failed")));
    long id = api.createJob(body);
    api.post(INF + "/jobs/" + id + "/cancel", new JsonObject());
    String status = api.awaitTerminal(id).getString("status");
    Api.await(receiver.until(all -> all.stream().anyMatch(r -> r.path().equals("/hooks/cancel")
        && r.json().getJsonObject("data").getLong("job_id") == id)));
    List<Received> got = receiver.at("/hooks/cancel").stream()
        .filter(r -> r.json().getJsonObject("data").getLong("job_id") == id).toList();
    assertThat(got).hasSize(1);
    assertThat(got.get(0).json().getString("type")).isEqualTo("job." + status);
  }
}
