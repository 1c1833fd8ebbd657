package io.inferencejobs.it;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.inferencejobs.app.Node;
import io.inferencejobs.config.ConfigLoader;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.inferencejobs.it.Api.INF;
import static io.inferencejobs.it.BadInputIT.assertError;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Streamed uploads on a node of their own (API role, at most 1,000 files per upload, a 10 s sweep age): the most files
 * an upload may hold, and one more; every way a body can go wrong, each leaving no spool file, row or object; the
 * sweeper removing the objects of a session that never committed. A second node, whose spool disk counts as full and
 * which starts on a data directory holding a file an earlier run left in its spool, answers 507 and shows the spool
 * emptied at start. No test may leave an error in the log: a handler that throws instead of failing its request is a
 * bug even when the client gets the right answer.
 */
class UploadsIT {
  static final String BOUNDARY = "uploads-it-boundary-7f3a";
  static Node node;
  static Node full;
  static Path leftover;
  static Api api;
  /** A real image of a few dozen bytes. */
  static Path png;
  /** Errors logged by Vert.x ("Unhandled exception": a handler threw) or by the node itself, test by test. */
  static final Unhandled UNHANDLED = new Unhandled();

  static final class Unhandled extends AppenderBase<ILoggingEvent> {
    final ConcurrentLinkedQueue<String> seen = new ConcurrentLinkedQueue<>();

    @Override
    protected void append(ILoggingEvent e) {
      if (e.getLevel().isGreaterOrEqual(Level.ERROR) && (e.getLoggerName().startsWith("io.vertx")
          || e.getLoggerName().startsWith("io.inferencejobs"))) {
        seen.add(e.getFormattedMessage() + (e.getThrowableProxy() == null ? "" : ": "
            + e.getThrowableProxy().getClassName() + ": " + e.getThrowableProxy().getMessage()));
      }
    }
  }

  @BeforeAll
  static void start() throws IOException {
    UNHANDLED.start();
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(UNHANDLED);
    Map<String, String> env = new HashMap<>(TestService.settings("uploads"));
    env.put("ROLES", "api");
    env.put("MAX_FILES_PER_UPLOAD", "1000");
    env.put("UPLOAD_SWEEP_SECONDS", "10");
    Map<String, String> small = new HashMap<>(TestService.settings("uploads-full"));
    small.put("ROLES", "api");
    small.put("UPLOAD_MIN_FREE_BYTES", Long.toString(Long.MAX_VALUE / 2));
    // what a node that died in the middle of an upload leaves in its spool
    Path spool = Path.of(small.get("DATA_DIR")).resolve("uploads-tmp");
    Files.createDirectories(spool);
    leftover = Files.write(spool.resolve(UUID.randomUUID() + ".part"), new byte[64 * 1024]);
    Node[] both = TestService.startTogether(env, small);
    node = both[0];
    full = both[1];
    api = new Api(node.httpPort());
    BufferedImage image = new BufferedImage(4, 4, BufferedImage.TYPE_INT_RGB);
    image.setRGB(1, 2, 0xff8800);
    png = Files.createTempFile("uploads-it-", ".png");
    assertThat(ImageIO.write(image, "png", png.toFile())).isTrue();
  }

  @AfterEach
  void nothingThrownUnhandled() {
    List<String> seen = List.copyOf(UNHANDLED.seen);
    UNHANDLED.seen.clear();
    assertThat(seen).as("errors logged while the test ran").isEmpty();
  }

  @AfterAll
  static void stop() throws IOException {
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(UNHANDLED);
    if (api != null) {
      api.close();
    }
    for (Node n : new Node[] {node, full}) {
      if (n != null) {
        Api.await(n.closeAsync());
      }
    }
    if (png != null) {
      Files.deleteIfExists(png);
    }
  }

  /** Upload sessions, uploaded files and objects under inference/ on a node: what an upload writes. */
  static long[] written(Node n) {
    Row r = Api.await(n.pool().query("""
        SELECT (SELECT count(*) FROM upload_sessions) AS s, (SELECT count(*) FROM uploaded_files) AS f""").execute())
        .iterator().next();
    long objects = Api.await(n.storage().listKeys(new S3Uri(n.storage().bucket(), "inference/"), 1_000_000)).size();
    return new long[] {r.getLong("s"), r.getLong("f"), objects};
  }

  static List<Path> spool(Node n) throws IOException {
    Path dir = n.config().dataDir().resolve("uploads-tmp");
    try (Stream<Path> files = Files.list(dir)) {
      return files.toList();
    }
  }

  static void spoolEmpties(Node n) {
    Eventually.until(api.vertx(), "the upload spool empty", Duration.ofSeconds(15), () -> spool(n), List::isEmpty);
  }

  /** Waits until one of the request's parts is on the spool disk, with some of its bytes. */
  static void spoolHoldsData(Node n) {
    Eventually.until(api.vertx(), "a spool file with data", Duration.ofSeconds(15), () -> {
      long most = 0;
      for (Path p : spool(n)) {
        most = Math.max(most, Files.exists(p) ? Files.size(p) : 0);
      }
      return most;
    }, size -> size > 0);
  }

  static void assertWireError(WireHttp.Response r, int status, String field) {
    assertThat(r.status()).as(r.toString()).isEqualTo(status);
    assertThat(r.header("Content-Type")).as(r.toString()).startsWith("application/json");
    JsonObject error = r.json().getJsonObject("error");
    assertThat(error.getString("code")).isNotBlank();
    assertThat(error.getString("message")).isNotBlank();
    assertThat(error.getJsonArray("details").stream().map(d -> ((JsonObject) d).getString("field")).toList())
        .contains(field);
  }

  static byte[] requestHead(String transfer) {
    return ("POST " + INF + "/upload-images?training_job_id=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Content-Type: multipart/form-data; boundary=" + BOUNDARY + "\r\n" + transfer + "\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1);
  }

  static byte[] partHead(String filename) {
    return ("--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"" + filename + "\"\r\n"
        + "Content-Type: image/png\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
  }

  /** Bytes of a part's content that hold no boundary. */
  static byte[] filler(int n) {
    byte[] b = new byte[n];
    Arrays.fill(b, (byte) 'x');
    return b;
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  @Test
  void aThousandFilesAreOneUploadAndOneMoreIs413() throws IOException {
    List<Map.Entry<String, Path>> files = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      files.add(Map.entry(String.format("frame-%04d.png", i), png));
    }
    long[] before = written(node);
    long t0 = System.nanoTime();
    HttpResponse<Buffer> r = api.upload(1, files);
    System.out.printf("UploadsIT: 1000 files (%d bytes each) uploaded in %d ms%n", Files.size(png),
        (System.nanoTime() - t0) / 1_000_000);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    JsonObject body = r.bodyAsJsonObject();
    assertThat(body.getInteger("total_files")).isEqualTo(1000);
    JsonArray uploaded = body.getJsonArray("uploaded_files");
    assertThat(uploaded).hasSize(1000);
    for (int i = 0; i < 1000; i++) {
      JsonObject f = uploaded.getJsonObject(i);
      assertThat(f.getString("original_filename")).isEqualTo(files.get(i).getKey());
      assertThat(f.getString("content_type")).isEqualTo("image/png");
    }
    long[] after = written(node);
    assertThat(after).containsExactly(before[0] + 1, before[1] + 1000, before[2] + 1000);
    S3Uri prefix = S3Uri.parse(body.getString("s3_prefix")).orElseThrow();
    assertThat(Api.await(node.storage().listKeys(prefix, 10_000))).hasSize(1000);
    spoolEmpties(node);

    files.add(Map.entry("frame-1000.png", png));
    HttpResponse<Buffer> refused = api.upload(1, files);
    assertError(refused, 413, "files");
    spoolEmpties(node);
    assertThat(written(node)).as("rows and objects after the refused upload").containsExactly(after);
  }

  @Test
  void aBodyWithoutItsClosingBoundaryIs400WhenItEndsAndLeavesNoSpoolFile() throws IOException {
    long[] before = written(node);
    byte[] start = concat(partHead("cut.png"), Files.readAllBytes(png), filler(1024 * 1024));
    byte[] end = filler(4096); // the last bytes of the part: then the body ends, with no boundary after it
    try (Socket s = WireHttp.connect(node.httpPort(), "127.0.0.1")) {
      OutputStream out = s.getOutputStream();
      out.write(requestHead("Content-Length: " + (start.length + end.length)));
      out.write(start);
      spoolHoldsData(node);
      out.write(end);
      long sent = System.nanoTime();
      // a blocking read: the answer must come (within the read timeout) once the body has ended, not hang
      WireHttp.Response r = WireHttp.read(s.getInputStream());
      System.out.printf("UploadsIT: unterminated body answered %d ms after its last byte%n",
          (System.nanoTime() - sent) / 1_000_000);
      assertWireError(r, 400, "files");
      assertThat(r.json().getJsonObject("error").getString("message")).contains("boundary");
    }
    spoolEmpties(node);
    assertThat(written(node)).containsExactly(before);
  }

  @Test
  void aClientLeavingInTheMiddleOfAPartLeavesNoSpoolFile() throws IOException {
    long[] before = written(node);
    try (Socket s = WireHttp.connect(node.httpPort(), "127.0.0.1")) {
      OutputStream out = s.getOutputStream();
      out.write(requestHead("Content-Length: " + 20 * 1024 * 1024));
      out.write(concat(partHead("big.png"), Files.readAllBytes(png), filler(2 * 1024 * 1024)));
      spoolHoldsData(node);
    } // gone, 18 MiB short
    spoolEmpties(node);
    assertThat(written(node)).containsExactly(before);
  }

  @Test
  void aChunkedBodyOverTheLimitIs413AndLeavesNoSpoolFile() throws Exception {
    long[] before = written(node);
    try (Socket s = WireHttp.connect(node.httpPort(), "127.0.0.1")) {
      OutputStream out = s.getOutputStream();
      out.write(requestHead("Transfer-Encoding: chunked"));
      out.write(chunk(concat(partHead("endless.png"), Files.readAllBytes(png), filler(1024 * 1024))));
      spoolHoldsData(node);
      // then an endless body, written while the answer is read: once it has answered, the node must hang up rather
      // than read on (with no Content-Length nothing else bounds what a client may send)
      long endless = 256L * 1024 * 1024;
      CompletableFuture<Long> writer = CompletableFuture.supplyAsync(() -> {
        long total = 0;
        byte[] piece = chunk(filler(256 * 1024));
        try {
          while (total < endless) {
            out.write(piece);
            total += piece.length;
          }
          out.write(chunk(("\r\n--" + BOUNDARY + "--\r\n").getBytes(StandardCharsets.ISO_8859_1)));
          out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        } catch (IOException closedByTheNode) {
          return total;
        }
        return -1L;
      });
      WireHttp.Response r = WireHttp.read(s.getInputStream());
      assertWireError(r, 413, "body");
      long sent = writer.get(60, TimeUnit.SECONDS);
      System.out.printf("UploadsIT: chunked body refused; the node hung up after the client had sent %d MiB more%n",
          sent / (1024 * 1024));
      assertThat(sent).as("bytes the client could send after the first MiB before the node hung up (-1: all %d MiB)",
          endless / (1024 * 1024)).isNotNegative();
    }
    spoolEmpties(node);
    assertThat(written(node)).containsExactly(before);
  }

  static byte[] chunk(byte[] data) {
    return concat((Integer.toHexString(data.length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1), data,
        "\r\n".getBytes(StandardCharsets.ISO_8859_1));
  }

  @Test
  void aFileThatIsNoImageIs415AndLeavesNoSpoolFile() throws IOException {
    long[] before = written(node);
    Path text = Files.createTempFile("uploads-it-", ".png");
    try {
      Files.writeString(text, "a shopping list, not a PNG\n".repeat(2000));
      HttpResponse<Buffer> r = api.upload(1, List.of(Map.entry("first.png", png), Map.entry("list.png", text)));
      assertError(r, 415, "files[1]");
      assertThat(r.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("list.png");
    } finally {
      Files.delete(text);
    }
    spoolEmpties(node);
    assertThat(written(node)).containsExactly(before);
  }

  @Test
  void aFullSpoolDiskIs507BlamingTheServerAndWritesNothing() throws IOException {
    long[] before = written(full);
    try (Api fullApi = new Api(full.httpPort())) {
      HttpResponse<Buffer> r = fullApi.upload(1, List.of(Map.entry("dog.jpg", JobFlowIT.IMAGES.resolve("dog.jpg"))));
      assertError(r, 507, "body");
      JsonObject error = r.bodyAsJsonObject().getJsonObject("error");
      assertThat(error.getString("code")).isEqualTo("insufficient_storage");
      assertThat(error.getString("message")).as("the server's disk is at fault, not the request")
          .containsIgnoringCase("server").containsIgnoringCase("disk");
      assertThat(r.getHeader("Retry-After")).isNotNull();
      assertThat(Integer.parseInt(r.getHeader("Retry-After"))).isPositive();
    }
    assertThat(spool(full)).isEmpty();
    assertThat(written(full)).containsExactly(before);
  }

  @Test
  void theSweeperRemovesTheObjectsOfSessionsThatNeverCommitted() {
    String bucket = node.storage().bucket();
    UUID stale = UUID.randomUUID();
    UUID notYet = UUID.randomUUID();
    UUID committed = UUID.randomUUID();
    S3Uri stalePrefix = new S3Uri(bucket, "inference/" + stale + "/");
    S3Uri notYetPrefix = new S3Uri(bucket, "inference/" + notYet + "/");
    S3Uri committedPrefix = new S3Uri(bucket, "inference/" + committed + "/");
    insert(stale, stalePrefix, "pending", -60);
    insert(notYet, notYetPrefix, "pending", 3600);
    insert(committed, committedPrefix, "committed", null);
    for (S3Uri prefix : List.of(stalePrefix, notYetPrefix, committedPrefix)) {
      for (String name : List.of("a.png", "b.png")) {
        Api.await(node.storage().putBytes(new S3Uri(bucket, prefix.key() + name), new byte[] {1, 2, 3}, "image/png"));
      }
    }
    long t0 = System.nanoTime();
    Eventually.until(api.vertx(), "the stale session and its objects gone", Duration.ofSeconds(40),
        () -> sessionExists(stale) || !Api.await(node.storage().listKeys(stalePrefix, 10)).isEmpty(), gone -> !gone);
    System.out.printf("UploadsIT: stale session swept %d ms after it was written%n",
        (System.nanoTime() - t0) / 1_000_000);
    // what is not yet stale, or committed, is left alone
    assertThat(sessionExists(notYet)).isTrue();
    assertThat(sessionExists(committed)).isTrue();
    assertThat(Api.await(node.storage().listKeys(notYetPrefix, 10))).hasSize(2);
    assertThat(Api.await(node.storage().listKeys(committedPrefix, 10))).hasSize(2);
  }

  static void insert(UUID id, S3Uri prefix, String state, Integer sweepAfterSeconds) {
    Api.await(node.pool().preparedQuery("""
            INSERT INTO upload_sessions (id, training_job_id, s3_prefix, state, sweep_after)
            VALUES ($1, 1, $2, $3, CASE WHEN $4::int IS NULL THEN NULL ELSE now() + make_interval(secs => $4::int) END)""")
        .execute(Tuple.of(id, prefix.toString(), state, sweepAfterSeconds)));
  }

  static boolean sessionExists(UUID id) {
    return Api.await(node.pool().preparedQuery("SELECT 1 FROM upload_sessions WHERE id = $1").execute(Tuple.of(id)))
        .size() > 0;
  }

  @Test
  void theSpoolIsEmptiedAtStart() throws IOException {
    assertThat(leftover).doesNotExist();
    assertThat(spool(full)).isEmpty();
  }
}
