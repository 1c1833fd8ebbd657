package io.inferencejobs.it;

import io.inferencejobs.app.Node;
import io.inferencejobs.config.ConfigLoader;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static io.inferencejobs.it.Api.INF;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Connections held to account, on a node of its own (API role, a 2 s header timeout, at most 500 connections per
 * client address): a client holding 2,000 half-sent requests neither starves another client nor keeps its
 * connections; a thousand event streams opened and dropped at once leave no stream counted; and a tenant's streams
 * stop at its cap (on a second node whose cap is 3). Attack traffic comes from other loopback addresses (127.0.0.2
 * and up) so that the test's own client on 127.0.0.1 is a different client to the node.
 */
class ConnectionsIT {
  static final String ATTACKER = "127.0.0.2";
  static final int PER_ADDRESS = 500;
  static final int STREAM_CAP = 3;
  static Node node;
  static Node tiny;
  /** Only for Vert.x (timers, the web client); requests go out on connections that close after each answer. */
  static Vertx vertx;
  static WebClient web;

  @BeforeAll
  static void start() {
    Map<String, String> env = new HashMap<>(TestService.settings("connections"));
    env.put("ROLES", "api");
    env.put("HTTP_HEADER_TIMEOUT_SECONDS", "2");
    env.put("HTTP_MAX_CONNECTIONS_PER_ADDRESS", Integer.toString(PER_ADDRESS));
    env.put("MAX_STREAMS_PER_TENANT", "2000");
    Map<String, String> small = new HashMap<>(TestService.settings("connections-cap"));
    small.put("ROLES", "api");
    small.put("MAX_STREAMS_PER_TENANT", Integer.toString(STREAM_CAP));
    // several API verticle instances per node, whatever the cores here: connections land on different instances,
    // and the caps and gauges must count them together
    env.put("HTTP_INSTANCES", "4");
    small.put("HTTP_INSTANCES", "4");
    Node[] both = TestService.startTogether(env, small);
    node = both[0];
    tiny = both[1];
    vertx = Vertx.vertx();
    // no keep-alive: the node closes a connection idle for 2 s, and a pooled one could be reused as it closes
    web = WebClient.create(vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setKeepAlive(false));
  }

  @AfterAll
  static void stop() {
    if (vertx != null) {
      Api.await(vertx.close());
    }
    for (Node n : new Node[] {node, tiny}) {
      if (n != null) {
        Api.await(n.closeAsync());
      }
    }
  }

  static HttpResponse<Buffer> get(Node n, String path) {
    return Api.await(web.get(n.httpPort(), "127.0.0.1", path).send());
  }

  /** A gauge of the node's /metrics, read on a connection of its own that closes after the answer. */
  static double gauge(Node n, String name) throws IOException {
    WireHttp.Response r = WireHttp.get(n.httpPort(), "/metrics");
    assertThat(r.status()).as(r.toString()).isEqualTo(200);
    return MetricsIT.sum(r.text(), name);
  }

  static double eventuallyGauge(Node n, String name, double expected, Duration limit) {
    return Eventually.until(vertx, name + " back to " + expected, limit, () -> gauge(n, name), v -> v == expected);
  }

  static void assertJsonError(WireHttp.Response r, int status) {
    assertThat(r.status()).as(r.toString()).isEqualTo(status);
    assertThat(r.header("Content-Type")).as(r.toString()).startsWith("application/json");
    assertThat(r.header("Retry-After")).as("Retry-After of " + r).isNotNull();
    assertThat(Integer.parseInt(r.header("Retry-After"))).isPositive();
    JsonObject error = r.json().getJsonObject("error");
    assertThat(error.getString("code")).isNotBlank();
    assertThat(error.getString("message")).isNotBlank();
    assertThat(error.getJsonArray("details")).isNotNull();
  }

  /** Opens {@code n} connections from {@code from}, each sending {@code bytes} (then nothing more). */
  static void open(List<Socket> into, int n, String from, byte[] bytes) throws IOException {
    for (int i = 0; i < n; i++) {
      Socket s = WireHttp.connect(node.httpPort(), from);
      into.add(s);
      s.getOutputStream().write(bytes);
    }
  }

  static void closeAll(List<Socket> sockets) {
    for (Socket s : sockets) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
  }

  /** A blocking read returns the end of the stream: the node has closed the connection, sending nothing more. */
  static void assertClosedByTheNode(Socket s, String what) throws IOException {
    try {
      int b = s.getInputStream().read();
      assertThat(b).as("%s got a byte instead of being closed", what).isEqualTo(-1);
    } catch (SocketTimeoutException e) {
      fail(what + " was still open " + WireHttp.READ_TIMEOUT_MS / 1000 + " s later");
    }
  }

  static String percentiles(long[] nanos) {
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    return String.format("p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d requests)", sorted[sorted.length / 2] / 1e6,
        sorted[(int) Math.ceil(sorted.length * 0.99) - 1] / 1e6, sorted[sorted.length - 1] / 1e6, sorted.length);
  }

  @Test
  void aClientHoldingTwoThousandHalfSentRequestsStarvesNobodyAndKeepsNothing() throws Exception {
    // before: only the scrape's own connection (anything an earlier test left has timed out)
    double quiet = eventuallyGauge(node, "http_connections", 1, Duration.ofSeconds(10));
    byte[] partial = "GET /health/live HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.ISO_8859_1);
    List<Socket> attack = new ArrayList<>(2000);
    try {
      long t0 = System.nanoTime();
      open(attack, PER_ADDRESS + 100, ATTACKER, partial);
      // a whole request from the same address while more than its cap are held: refused at once, in the JSON shape,
      // and the connection closed by the node (a client that ignores Connection: close must not keep it either)
      try (Socket probe = WireHttp.connect(node.httpPort(), ATTACKER)) {
        probe.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
            .getBytes(StandardCharsets.ISO_8859_1));
        WireHttp.Response refused = WireHttp.read(probe.getInputStream());
        assertJsonError(refused, 503);
        assertThat(refused.header("Connection")).isEqualToIgnoringCase("close");
        assertClosedByTheNode(probe, "the refused connection");
      }
      open(attack, 2000 - attack.size(), ATTACKER, partial);
      long openMs = (System.nanoTime() - t0) / 1_000_000;

      // meanwhile another client is served as usual, the database included
      double heldBefore = gauge(node, "http_connections");
      long[] live = new long[200];
      long[] db = new long[10];
      for (int i = 0; i < live.length; i++) {
        long start = System.nanoTime();
        HttpResponse<Buffer> r = get(node, "/health/live");
        live[i] = System.nanoTime() - start;
        assertThat(r.statusCode()).as("request %d: %s", i, r.bodyAsString()).isEqualTo(200);
        if (i % 20 == 0) {
          start = System.nanoTime();
          r = get(node, INF + "/jobs?limit=1");
          db[i / 20] = System.nanoTime() - start;
          assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
        }
      }
      double heldAfter = gauge(node, "http_connections");
      System.out.printf("ConnectionsIT: 2000 half-sent connections opened from %s in %d ms; the node held %.0f "
              + "connections before the other client's requests and %.0f after them%n", ATTACKER, openMs,
          heldBefore, heldAfter);
      System.out.println("ConnectionsIT: GET /health/live meanwhile: " + percentiles(live));
      System.out.println("ConnectionsIT: GET /jobs?limit=1 meanwhile: " + percentiles(db));

      // every attack connection is closed by the node, without an answer: the first 500 at the header timeout,
      // the ones over the cap after their grace second
      long t1 = System.nanoTime();
      for (int i = 0; i < attack.size(); i++) {
        assertClosedByTheNode(attack.get(i), "attack connection " + i);
      }
      System.out.printf("ConnectionsIT: all 2000 closed by the node %d ms after the other client finished%n",
          (System.nanoTime() - t1) / 1_000_000);
    } finally {
      closeAll(attack);
    }
    eventuallyGauge(node, "http_connections", quiet, Duration.ofSeconds(10));
  }

  @Test
  void aThousandStreamsOpenedAndDroppedAtOnceLeaveNoneCounted() throws Exception {
    byte[] request = streamRequest(INF + "/events");
    List<Socket> waiting = new ArrayList<>();
    try {
      // four client addresses of 250 connections each: under the per-address cap, so every stream is a stream
      for (int i = 0; i < 1000; i++) {
        Socket s = WireHttp.connect(node.httpPort(), "127.0.0." + (3 + i % 4));
        s.getOutputStream().write(request);
        if (i % 2 == 0) {
          s.close(); // gone right after asking, before (or while) the node registers the stream
        } else {
          waiting.add(s);
        }
      }
      for (Socket s : waiting) {
        WireHttp.Response head = WireHttp.readHead(s.getInputStream());
        assertThat(head.status()).as(head.toString()).isEqualTo(200);
        assertThat(head.header("Content-Type")).startsWith("text/event-stream");
      }
      double open = gauge(node, "sse_connections");
      System.out.printf("ConnectionsIT: %.0f streams open with 500 of 1000 dropped%n", open);
      assertThat(open).as("streams counted while 500 are open").isGreaterThanOrEqualTo(waiting.size());
    } finally {
      closeAll(waiting); // gone right after the headers
    }
    eventuallyGauge(node, "sse_connections", 0, Duration.ofSeconds(20));

    // the node still answers from its database as usual
    HttpResponse<Buffer> list = get(node, INF + "/jobs?limit=1");
    assertThat(list.statusCode()).as(list.bodyAsString()).isEqualTo(200);
    S3Uri image = new S3Uri(node.storage().bucket(), "connections-it/dog.jpg");
    Api.await(node.storage().putBytes(image, Files.readAllBytes(JobFlowIT.IMAGES.resolve("dog.jpg")), "image/jpeg"));
    HttpResponse<Buffer> created = Api.await(web.post(node.httpPort(), "127.0.0.1", INF + "/jobs")
        .sendJsonObject(Api.jobRequest(new JsonObject().put("image_uris", new JsonArray().add(image.toString())))));
    assertThat(created.statusCode()).as(created.bodyAsString()).isEqualTo(201);
    long id = created.bodyAsJsonObject().getLong("id");
    HttpResponse<Buffer> job = get(node, INF + "/jobs/" + id);
    assertThat(job.statusCode()).as(job.bodyAsString()).isEqualTo(200);
    assertThat(job.bodyAsJsonObject().getString("status")).isEqualTo("pending");
  }

  @Test
  void streamsBeyondTheTenantsCapAre429AndAFreedPlaceIsReused() throws Exception {
    S3Uri image = new S3Uri(tiny.storage().bucket(), "connections-it/dog.jpg");
    Api.await(tiny.storage().putBytes(image, Files.readAllBytes(JobFlowIT.IMAGES.resolve("dog.jpg")), "image/jpeg"));
    HttpResponse<Buffer> created = Api.await(web.post(tiny.httpPort(), "127.0.0.1", INF + "/jobs")
        .sendJsonObject(Api.jobRequest(new JsonObject().put("image_uris", new JsonArray().add(image.toString())))));
    assertThat(created.statusCode()).as(created.bodyAsString()).isEqualTo(201);
    String jobStream = INF + "/jobs/" + created.bodyAsJsonObject().getLong("id") + "/events";
    String allStream = INF + "/events";
    List<Socket> held = new ArrayList<>();
    try {
      // the cap-th stream is accepted, whichever kind: job streams and all-jobs streams count alike
      for (String path : List.of(allStream, allStream, jobStream)) {
        Socket s = WireHttp.connect(tiny.httpPort(), "127.0.0.1");
        held.add(s);
        s.getOutputStream().write(streamRequest(path));
        WireHttp.Response head = WireHttp.readHead(s.getInputStream());
        assertThat(head.status()).as(path + ": " + head).isEqualTo(200);
      }
      assertThat(gauge(tiny, "sse_connections")).isEqualTo(STREAM_CAP);
      // the next one, of either kind, is refused
      for (String path : List.of(allStream, jobStream)) {
        WireHttp.Response refused = WireHttp.exchange(tiny.httpPort(), "127.0.0.1", new String(streamRequest(path),
            StandardCharsets.ISO_8859_1));
        assertJsonError(refused, 429);
        assertThat(refused.json().getJsonObject("error").getString("message")).contains("event streams");
      }
      // a stream that ends frees its place (once the node has seen it go)
      held.remove(2).close();
      Socket again = Eventually.until(vertx, "a stream accepted after one closed", Duration.ofSeconds(10), () -> {
        Socket s = WireHttp.connect(tiny.httpPort(), "127.0.0.1");
        s.getOutputStream().write(streamRequest(allStream));
        WireHttp.Response head = WireHttp.readHead(s.getInputStream());
        if (head.status() == 200) {
          return s;
        }
        assertThat(head.status()).as(head.toString()).isEqualTo(429);
        s.close();
        return null;
      }, s -> s != null);
      held.add(again);
      assertThat(gauge(tiny, "sse_connections")).isEqualTo(STREAM_CAP);
    } finally {
      closeAll(held);
    }
    eventuallyGauge(tiny, "sse_connections", 0, Duration.ofSeconds(10));
  }

  static byte[] streamRequest(String path) {
    return ("GET " + path + " HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1);
  }
}
