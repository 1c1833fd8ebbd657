package io.inferencejobs.it;

import io.inferencejobs.storage.S3Uri;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

import static io.inferencejobs.it.Api.INF;
import static io.inferencejobs.it.JobFlowIT.IMAGES;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Results that leave the service: each export of one job on the sample photos (plus a corrupt and a missing image)
 * checked against the results API; retrying only the failed images; deleting a job and what only it used.
 */
class ExportsIT extends SharedServiceIT {
  static long job;
  static List<JsonObject> results;
  static int predictions;

  @BeforeAll
  static void runJob() throws Exception {
    byte[] dog = Files.readAllBytes(IMAGES.resolve("dog.jpg"));
    S3Uri broken = new S3Uri(node.storage().bucket(), "exports-it/broken.jpg");
    Api.await(node.storage().putBytes(broken, Arrays.copyOf(dog, 2000), "image/jpeg"));
    JsonObject up = api.upload(1, List.of(Map.entry("dog.jpg", IMAGES.resolve("dog.jpg")))).bodyAsJsonObject();
    JsonArray uris = new JsonArray();
    up.getJsonArray("uploaded_files").forEach(f -> uris.add(((JsonObject) f).getString("s3_uri")));
    // a name with a comma, as other tools write them
    S3Uri person = new S3Uri(node.storage().bucket(), "exports-it/person,2024.jpg");
    Api.await(node.storage().putBytes(person, Files.readAllBytes(IMAGES.resolve("person.jpg")), "image/jpeg"));
    uris.add(person.toString());
    uris.add(broken.toString());
    uris.add("s3://" + node.storage().bucket() + "/exports-it/missing.jpg");
    job = api.createJob(Api.jobRequest(new JsonObject().put("image_uris", uris)));
    assertThat(api.awaitTerminal(job).getString("status")).isEqualTo("completed");
    results = api.allResults(job);
    predictions = results.stream().mapToInt(r -> r.getJsonArray("predictions").size()).sum();
    assertThat(predictions).isGreaterThan(5);
  }

  static HttpResponse<Buffer> export(long id, String format) {
    return api.get(INF + "/jobs/" + id + "/export?format=" + format);
  }

  static Buffer exported(String format) {
    HttpResponse<Buffer> r = export(job, format);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    assertThat(r.getHeader("Content-Disposition")).isEqualTo("attachment; filename=\"job-" + job + "."
        + switch (format) {
          case "coco" -> "coco.json";
          case "yolo" -> "yolo.zip";
          case "errors" -> "errors.jsonl";
          case "labelstudio" -> "labelstudio.json";
          case "annotated" -> "annotated.zip";
          default -> format;
        } + "\"");
    assertThat(r.getHeader("X-Job-Status")).isEqualTo("completed");
    return r.body();
  }

  @Test
  void cocoBoxesEqualTheResultsApi() {
    JsonObject coco = exported("coco").toJsonObject();
    JsonArray images = coco.getJsonArray("images");
    // the two photos; the corrupt and the missing image have no size and are in the errors file instead
    assertThat(images).hasSize(2);
    Map<Integer, JsonObject> byId = new HashMap<>();
    images.forEach(o -> byId.put(((JsonObject) o).getInteger("id"), (JsonObject) o));
    JsonObject dogImage = byId.get(1);
    assertThat(dogImage.getString("file_name")).isEqualTo("dog.jpg");
    assertThat(dogImage.getInteger("width")).isEqualTo(768);
    assertThat(dogImage.getInteger("height")).isEqualTo(576);
    assertThat(byId.get(2).getString("file_name")).isEqualTo("person,2024.jpg");

    JsonArray categories = coco.getJsonArray("categories");
    assertThat(categories).hasSize(80);
    assertThat(categories.getJsonObject(0).getInteger("id")).isEqualTo(1);
    assertThat(categories.getJsonObject(0).getString("name")).isEqualTo("person");
    Map<Integer, String> names = new HashMap<>();
    categories.forEach(o -> names.put(((JsonObject) o).getInteger("id"), ((JsonObject) o).getString("name")));

    JsonArray annotations = coco.getJsonArray("annotations");
    assertThat(annotations).hasSize(predictions);
    List<Long> ids = new ArrayList<>();
    int k = 0;
    for (JsonObject result : results) {
      for (Object o : result.getJsonArray("predictions")) {
        JsonObject p = (JsonObject) o;
        JsonObject b = p.getJsonObject("bbox");
        JsonObject a = annotations.getJsonObject(k++);
        ids.add(a.getLong("id"));
        assertThat(a.getInteger("image_id")).isEqualTo(result.getInteger("image_index") + 1);
        assertThat(names.get(a.getInteger("category_id"))).isEqualTo(p.getString("class_name"));
        JsonArray box = a.getJsonArray("bbox");
        assertThat(box.getDouble(0)).isCloseTo(b.getDouble("x1"), within(0.01));
        assertThat(box.getDouble(1)).isCloseTo(b.getDouble("y1"), within(0.01));
        assertThat(box.getDouble(2)).isCloseTo(b.getDouble("x2") - b.getDouble("x1"), within(0.01));
        assertThat(box.getDouble(3)).isCloseTo(b.getDouble("y2") - b.getDouble("y1"), within(0.01));
        assertThat(a.getDouble("score")).isEqualTo(p.getDouble("confidence"));
        assertThat(a.getDouble("area")).isCloseTo(box.getDouble(2) * box.getDouble(3), within(0.05));
        assertThat(a.getInteger("iscrowd")).isZero();
      }
    }
    assertThat(ids).doesNotHaveDuplicates().doesNotContain(0L);
  }

  @Test
  void yoloLabelsRoundTrip() throws IOException {
    Map<String, String> entries = unzip(exported("yolo").getBytes());
    assertThat(entries).containsKeys("data.yaml", "sources.txt", "labels/dog.txt");
    assertThat(entries.get("data.yaml")).contains("  0: \"person\"", "  79: \"toothbrush\"");
    for (JsonObject result : results) {
      if (result.getString("error") != null) {
        continue;
      }
      String stem = result.getString("image_name").replaceAll("\\.jpg$", "").replaceAll("[^\\w.-]", "_");
      String labels = entries.get("labels/" + stem + ".txt");
      assertThat(labels).as(stem).isNotNull();
      assertThat(entries.get("sources.txt")).contains("labels/" + stem + ".txt\t" + result.getString("s3_uri"));
      String[] lines = labels.isEmpty() ? new String[0] : labels.split("\n");
      JsonArray preds = result.getJsonArray("predictions");
      assertThat(lines).hasSize(preds.size());
      double w = result.getInteger("width");
      double h = result.getInteger("height");
      for (int i = 0; i < lines.length; i++) {
        String[] f = lines[i].split(" ");
        JsonObject p = preds.getJsonObject(i);
        JsonObject b = p.getJsonObject("bbox");
        assertThat(Integer.parseInt(f[0])).isEqualTo(p.getInteger("class_id"));
        // parsed back into pixels, the same box within 1e-4 of the image's size
        double cx = Double.parseDouble(f[1]);
        double cy = Double.parseDouble(f[2]);
        double bw = Double.parseDouble(f[3]);
        double bh = Double.parseDouble(f[4]);
        assertThat((cx - bw / 2) * w).isCloseTo(b.getDouble("x1"), within(1e-4 * w));
        assertThat((cy - bh / 2) * h).isCloseTo(b.getDouble("y1"), within(1e-4 * h));
        assertThat((cx + bw / 2) * w).isCloseTo(b.getDouble("x2"), within(1e-4 * w));
        assertThat((cy + bh / 2) * h).isCloseTo(b.getDouble("y2"), within(1e-4 * h));
      }
    }
  }

  @Test
  void csvHasOneRowPerPrediction() {
    String csv = exported("csv").toString(StandardCharsets.UTF_8);
    List<String> rows = csvRows(csv);
    assertThat(rows.get(0)).startsWith("image_index,image_name,");
    assertThat(rows).hasSize(predictions + 1);
    // a name with a comma is one quoted field
    assertThat(csv).contains(",\"person,2024.jpg\",");
    assertThat(rows.stream().filter(r -> r.startsWith("0,dog.jpg,")).count())
        .isEqualTo(results.get(0).getJsonArray("predictions").size());
  }

  /** Rows of a CSV text (a quoted field may hold a newline). */
  static List<String> csvRows(String csv) {
    List<String> rows = new ArrayList<>();
    StringBuilder row = new StringBuilder();
    boolean quoted = false;
    for (char c : csv.toCharArray()) {
      if (c == '"') {
        quoted = !quoted;
      }
      if ((c == '\n') && !quoted) {
        rows.add(row.toString().replaceAll("\r$", ""));
        row.setLength(0);
      } else {
        row.append(c);
      }
    }
    if (row.length() > 0) {
      rows.add(row.toString());
    }
    return rows;
  }

  @Test
  void jsonlHasOneLinePerImageAndErrorsListTheFailedOnes() {
    String[] lines = exported("jsonl").toString(StandardCharsets.UTF_8).split("\n");
    assertThat(lines).hasSize(results.size());
    int count = 0;
    for (int i = 0; i < lines.length; i++) {
      JsonObject line = new JsonObject(lines[i]);
      assertThat(line.getString("image_name")).isEqualTo(results.get(i).getString("image_name"));
      assertThat(line.getJsonArray("predictions")).isEqualTo(results.get(i).getJsonArray("predictions"));
      count += line.getJsonArray("predictions").size();
    }
    assertThat(count).isEqualTo(predictions);

    String[] errors = exported("errors").toString(StandardCharsets.UTF_8).split("\n");
    assertThat(errors).hasSize(2);
    JsonObject broken = new JsonObject(errors[0]);
    assertThat(broken.getString("image_name")).isEqualTo("broken.jpg");
    assertThat(broken.getString("code")).isEqualTo("corrupt");
    assertThat(broken.getString("message")).isNotBlank();
    JsonObject missing = new JsonObject(errors[1]);
    assertThat(missing.getString("image_name")).isEqualTo("missing.jpg");
    assertThat(missing.getString("code")).isEqualTo("missing");
    // the results API names the same codes
    assertThat(results.get(2).getString("error_code")).isEqualTo("corrupt");
    assertThat(results.get(0).getString("error_code")).isNull();
  }

  @Test
  void labelStudioTasksCarryEveryPrediction() {
    JsonArray tasks = exported("labelstudio").toJsonArray();
    assertThat(tasks).hasSize(2);
    JsonObject dog = tasks.getJsonObject(0);
    assertThat(dog.getJsonObject("data").getString("image")).isEqualTo(results.get(0).getString("s3_uri"));
    JsonArray result = dog.getJsonArray("predictions").getJsonObject(0).getJsonArray("result");
    assertThat(result).hasSize(results.get(0).getJsonArray("predictions").size());
    JsonObject first = result.getJsonObject(0);
    JsonObject p = results.get(0).getJsonArray("predictions").getJsonObject(0);
    JsonObject b = p.getJsonObject("bbox");
    assertThat(first.getString("type")).isEqualTo("rectanglelabels");
    assertThat(first.getInteger("original_width")).isEqualTo(768);
    JsonObject v = first.getJsonObject("value");
    // Label Studio boxes are percentages of the image
    assertThat(v.getDouble("x")).isCloseTo(b.getDouble("x1") / 768 * 100, within(1e-3));
    assertThat(v.getDouble("width")).isCloseTo((b.getDouble("x2") - b.getDouble("x1")) / 768 * 100, within(1e-3));
    assertThat(v.getJsonArray("rectanglelabels").getString(0)).isEqualTo(p.getString("class_name"));
  }

  @Test
  void annotatedImagesCarryTheBoxesAndNothingElseChanges() throws IOException {
    JsonObject dog = results.get(0);
    HttpResponse<Buffer> r = api.get(INF + "/jobs/" + job + "/images/0?annotated=true");
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    assertThat(r.getHeader("Content-Type")).isEqualTo("image/jpeg");
    BufferedImage drawn = javax.imageio.ImageIO.read(new ByteArrayInputStream(r.body().getBytes()));
    BufferedImage original = javax.imageio.ImageIO.read(IMAGES.resolve("dog.jpg").toFile());
    assertThat(drawn.getWidth()).isEqualTo(768);
    assertThat(drawn.getHeight()).isEqualTo(576);
    JsonArray boxes = dog.getJsonArray("predictions");
    // along each box's left and right edges the picture changed a lot ...
    for (Object o : boxes) {
      JsonObject b = ((JsonObject) o).getJsonObject("bbox");
      int y1 = (int) Math.ceil(b.getDouble("y1")) + 40;
      int y2 = (int) Math.floor(b.getDouble("y2")) - 2;
      int x1 = (int) Math.round(b.getDouble("x1"));
      int x2 = Math.min(767, (int) Math.round(b.getDouble("x2")));
      double edge = 0;
      int n = 0;
      for (int y = y1; y < y2; y += 2) {
        edge += diff(drawn, original, x1, y) + diff(drawn, original, x2, y);
        n += 2;
      }
      assertThat(n).isPositive();
      assertThat(edge / n).as("change along the edges of " + b).isGreaterThan(40);
    }
    // ... and away from every box and its tag it is the same photo (JPEG re-encoding aside)
    double away = 0;
    int n = 0;
    for (int y = 0; y < 576; y += 3) {
      for (int x = 0; x < 768; x += 3) {
        if (nearABox(boxes, x, y)) {
          continue;
        }
        away += diff(drawn, original, x, y);
        n++;
      }
    }
    assertThat(n).isGreaterThan(500);
    assertThat(away / n).isLessThan(8);

    // an image that failed has nothing to draw (422 with its error); an index the job lacks is 404
    int broken = results.stream().filter(x -> x.getString("error") != null).findFirst().orElseThrow()
        .getInteger("image_index");
    HttpResponse<Buffer> failed = api.get(INF + "/jobs/" + job + "/images/" + broken + "?annotated=true");
    assertThat(failed.statusCode()).as(failed.bodyAsString()).isEqualTo(422);
    assertThat(failed.bodyAsString()).contains("\"field\":\"image_index\"", "failed");
    assertThat(api.get(INF + "/jobs/" + job + "/images/99?annotated=true").statusCode()).isEqualTo(404);
    assertThat(api.get(INF + "/jobs/" + job + "/images/0?annotated=maybe").statusCode()).isEqualTo(400);
  }

  @Test
  void annotatedZipHoldsEveryDrawnImageAndNamesTheOthers() throws IOException {
    Map<String, byte[]> entries = new HashMap<>();
    try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(exported("annotated").getBytes()))) {
      for (ZipEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
        entries.put(e.getName(), in.readAllBytes());
      }
    }
    assertThat(entries).containsOnlyKeys("images/dog.jpg", "images/person_2024.jpg", "not-drawn.txt");
    BufferedImage dog = javax.imageio.ImageIO.read(new ByteArrayInputStream(entries.get("images/dog.jpg")));
    assertThat(dog.getWidth()).isEqualTo(768);
    HttpResponse<Buffer> single = api.get(INF + "/jobs/" + job + "/images/0?annotated=true");
    assertThat(entries.get("images/dog.jpg")).isEqualTo(single.body().getBytes());
    String notDrawn = new String(entries.get("not-drawn.txt"), StandardCharsets.UTF_8);
    assertThat(notDrawn.lines().skip(1)).hasSize(2)
        .anySatisfy(l -> assertThat(l).contains("broken.jpg", "failed"))
        .anySatisfy(l -> assertThat(l).contains("missing.jpg", "failed"));
  }

  static int diff(BufferedImage a, BufferedImage b, int x, int y) {
    int p = a.getRGB(x, y);
    int q = b.getRGB(x, y);
    int d = 0;
    for (int shift = 0; shift <= 16; shift += 8) {
      d = Math.max(d, Math.abs(((p >> shift) & 0xFF) - ((q >> shift) & 0xFF)));
    }
    return d;
  }

  /** Within a box's outline or its tag (above the box's top-left corner, up to 250 px wide). */
  static boolean nearABox(JsonArray boxes, int x, int y) {
    for (Object o : boxes) {
      JsonObject b = ((JsonObject) o).getJsonObject("bbox");
      double x1 = b.getDouble("x1");
      double y1 = b.getDouble("y1");
      double x2 = b.getDouble("x2");
      double y2 = b.getDouble("y2");
      boolean outline = x >= x1 - 12 && x <= x2 + 12 && y >= y1 - 12 && y <= y2 + 12
          && !(x > x1 + 12 && x < x2 - 12 && y > y1 + 12 && y < y2 - 12);
      boolean tag = x >= x1 - 12 && x <= x1 + 250 && y >= y1 - 40 && y <= y1 + 40;
      if (outline || tag) {
        return true;
      }
    }
    return false;
  }

  @Test
  void badExportRequestsGetClearErrors() {
    HttpResponse<Buffer> unknown = export(job, "pascal");
    assertThat(unknown.statusCode()).isEqualTo(400);
    assertThat(unknown.bodyAsString()).contains("\"field\":\"format\"");
    HttpResponse<Buffer> none = api.get(INF + "/jobs/" + job + "/export");
    assertThat(none.statusCode()).isEqualTo(400);
    assertThat(none.bodyAsString()).contains("\"field\":\"format\"");
    HttpResponse<Buffer> missing = export(987654321L, "coco");
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(missing.bodyAsString()).contains("\"field\":\"inference_job_id\"");
  }

  @Test
  void exportsAtTheLimitRunAndOnePastItIsRefusedUntilOneEnds() throws Exception {
    int limit = node.config().results().maxConcurrentExports();
    // a job with enough results that an export whose client stops reading stays in flight (about 15 MB of JSONL,
    // more than the socket buffers hold)
    var repo = new io.inferencejobs.jobs.JobRepository(node.pool(), events -> { });
    int images = 60_000;
    var job = ResultWritesIT.runningJob(repo, images, images);
    for (int from = 0; from < images; from += 2_000) {
      List<io.inferencejobs.jobs.ResultRow> rows = new ArrayList<>();
      for (int i = from; i < from + 2_000; i++) {
        rows.add(ResultWritesIT.row(i, null));
      }
      assertThat(Api.await(repo.writeResults(job.id(), "w", rows, false)).inserted()).isEqualTo(2_000);
    }
    String path = INF + "/jobs/" + job.id() + "/export?format=jsonl";
    List<java.net.Socket> open = new ArrayList<>();
    try {
      // at the limit: every one starts (200), and none is read further
      for (int i = 0; i < limit; i++) {
        java.net.Socket s = new java.net.Socket("127.0.0.1", node.httpPort());
        open.add(s);
        s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
        assertThat(statusLine(s)).as("export %d of %d", i + 1, limit).startsWith("HTTP/1.1 200");
      }
      // one past it: refused at once, with the JSON error and when to come back
      HttpResponse<Buffer> refused = api.get(path);
      assertThat(refused.statusCode()).isEqualTo(503);
      assertThat(refused.getHeader("Retry-After")).isNotNull();
      assertThat(refused.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("exports");
      // one ends: read to its end, it is whole (every image once), and its place is free again
      java.net.Socket first = open.remove(0);
      String body = new String(first.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      first.close();
      assertThat(body.lines().filter(l -> l.contains("\"image_index\"")).count()).isEqualTo(images);
      HttpResponse<Buffer> again = null;
      for (int attempt = 0; attempt < 50 && (again == null || again.statusCode() == 503); attempt++) {
        again = api.get(path); // the place frees when the server has ended the response, just after the client read it
      }
      assertThat(again.statusCode()).isEqualTo(200);
      assertThat(again.bodyAsString().lines().count()).isEqualTo(images);
    } finally {
      for (java.net.Socket s : open) {
        s.close();
      }
      // the tests after this one find a place free: a small export is served again once the server saw the closes
      String small = INF + "/jobs/" + job.id() + "/export?format=errors";
      int status = 503;
      for (int attempt = 0; attempt < 50 && status == 503; attempt++) {
        status = api.get(small).statusCode();
      }
      assertThat(status).isEqualTo(200);
      Api.await(repo.transition(job.id(), io.inferencejobs.jobs.JobStatus.CANCELLED, null));
    }
  }

  /** The status line of the answer on {@code s}, read byte by byte (the rest is left unread). */
  private static String statusLine(java.net.Socket s) throws IOException {
    StringBuilder line = new StringBuilder();
    int b;
    while ((b = s.getInputStream().read()) != -1 && b != '\n') {
      line.append((char) b);
    }
    return line.toString().trim();
  }

  @Test
  void retryRunsOnlyTheFailedImages() throws Exception {
    S3Uri late = new S3Uri(node.storage().bucket(), "exports-it/late-" + System.nanoTime() + ".jpg");
    JsonArray uris = new JsonArray().add(results.get(0).getString("s3_uri")).add(late.toString());
    long id = api.createJob(Api.jobRequest(new JsonObject().put("image_uris", uris)));
    // 1 of 2 failed: not above the allowed ratio, so the job completes
    assertThat(api.awaitTerminal(id).getString("status")).isEqualTo("completed");
    Row before = firstResult(id);

    // the image is there now
    Api.await(node.storage().putBytes(late, Files.readAllBytes(IMAGES.resolve("person.jpg")), "image/jpeg"));
    HttpResponse<Buffer> running = api.post(INF + "/jobs/" + id + "/retry", new JsonObject());
    assertThat(running.statusCode()).as(running.bodyAsString()).isEqualTo(202);
    JsonObject job = running.bodyAsJsonObject();
    assertThat(job.getInteger("attempt")).isEqualTo(2);
    assertThat(job.getInteger("failed_images")).isZero();
    assertThat(job.getInteger("processed_images")).isEqualTo(1);
    JsonObject done = api.awaitTerminal(id);
    JsonObject after = api.get(INF + "/jobs/" + id).bodyAsJsonObject();
    assertThat(after.getString("status")).as(done.encode()).isEqualTo("completed");
    assertThat(after.getInteger("attempt")).isEqualTo(2);
    assertThat(after.getInteger("failed_images")).isZero();
    List<JsonObject> now = api.allResults(id);
    assertThat(now.get(1).getString("error")).isNull();
    assertThat(now.get(1).getJsonArray("predictions")).isNotEmpty();
    // the image that succeeded the first time was not run again: its row is the same row
    Row unchanged = firstResult(id);
    assertThat(unchanged.getOffsetDateTime("created_at")).isEqualTo(before.getOffsetDateTime("created_at"));
    assertThat(unchanged.getDouble("inference_time_ms")).isEqualTo(before.getDouble("inference_time_ms"));

    // a client that last saw an event of the first attempt resumes without that attempt's end, which would have
    // ended its stream: it gets one terminal event, the second attempt's, last
    Api.Stream resumed = api.stream(INF + "/jobs/" + id + "/events", "1");
    Api.await(resumed.until(Api::terminal));
    List<Api.Sse> seen = resumed.real();
    List<Api.Sse> ends = seen.stream().filter(e -> List.of("completed", "failed", "cancelled").contains(e.type()))
        .toList();
    assertThat(ends).as("events after the first one: %s", seen).hasSize(1);
    assertThat(seen.get(seen.size() - 1)).isSameAs(ends.get(0));
    assertThat(ends.get(0).json().getInteger("attempt")).isEqualTo(2);
    assertThat(seen.stream().map(Api.Sse::type)).contains("status");
    resumed.close();

    // nothing failed any more: nothing to retry
    HttpResponse<Buffer> nothing = api.post(INF + "/jobs/" + id + "/retry", new JsonObject());
    assertThat(nothing.statusCode()).isEqualTo(409);
    assertThat(nothing.bodyAsString()).contains("no failed images");
    assertThat(api.post(INF + "/jobs/987654321/retry", new JsonObject()).statusCode()).isEqualTo(404);
  }

  @Test
  void aJobThatHasNotEndedIsNotRetriedNorDeleted() {
    // a job of many images is still pending or running when asked
    JsonArray uris = new JsonArray();
    for (int i = 0; i < 200; i++) {
      uris.add(results.get(0).getString("s3_uri"));
    }
    long id = api.createJob(Api.jobRequest(new JsonObject().put("image_uris", uris)));
    HttpResponse<Buffer> retry = api.post(INF + "/jobs/" + id + "/retry", new JsonObject());
    HttpResponse<Buffer> delete = api.request(HttpMethod.DELETE, INF + "/jobs/" + id);
    HttpResponse<Buffer> cancel = api.post(INF + "/jobs/" + id + "/cancel", new JsonObject());
    assertThat(cancel.statusCode()).as(cancel.bodyAsString()).isEqualTo(202);
    assertThat(retry.statusCode()).as(retry.bodyAsString()).isEqualTo(409);
    assertThat(retry.bodyAsString()).contains("\"field\":\"status\"");
    assertThat(delete.statusCode()).as(delete.bodyAsString()).isEqualTo(409);
    assertThat(delete.bodyAsString()).contains("cancel it first");
    api.awaitTerminal(id);
    HttpResponse<Buffer> cancelled = api.post(INF + "/jobs/" + id + "/retry", new JsonObject());
    assertThat(cancelled.statusCode()).isEqualTo(409);
    assertThat(cancelled.bodyAsString()).contains("cancelled");
    assertThat(api.request(HttpMethod.DELETE, INF + "/jobs/" + id).statusCode()).isEqualTo(204);
  }

  @Test
  void deleteRemovesEverythingAndOnlyUnsharedUploads() throws Exception {
    JsonObject up = api.upload(1, List.of(Map.entry("dog.jpg", IMAGES.resolve("dog.jpg")))).bodyAsJsonObject();
    String session = up.getString("inference_session_id");
    S3Uri object = S3Uri.parse(up.getJsonArray("uploaded_files").getJsonObject(0).getString("s3_uri")).orElseThrow();
    long first = api.createJob(Api.jobRequest(new JsonObject().put("inference_session_id", session)));
    long second = api.createJob(Api.jobRequest(new JsonObject().put("inference_session_id", session)));
    api.awaitTerminal(first);
    api.awaitTerminal(second);
    Api.Stream all = api.stream(INF + "/events", null);
    Api.await(all.until(events -> !events.isEmpty()));

    assertThat(api.request(HttpMethod.DELETE, INF + "/jobs/" + first).statusCode()).isEqualTo(204);
    // the second job still uses the image: it stays
    assertThat(Api.await(node.storage().head(object))).isPresent();
    for (String path : List.of("", "/results", "/export?format=coco", "/images/0", "/webhook-deliveries")) {
      HttpResponse<Buffer> r = api.get(INF + "/jobs/" + first + path);
      assertThat(r.statusCode()).as(path).isEqualTo(404);
      assertThat(r.bodyAsString()).as(path).contains("\"field\":\"inference_job_id\"");
    }
    Api.Stream events = api.stream(INF + "/jobs/" + first + "/events", null);
    events.close();
    assertThat(events.status).isEqualTo(404);
    assertThat(api.request(HttpMethod.DELETE, INF + "/jobs/" + first).statusCode()).isEqualTo(404);
    assertThat(api.post(INF + "/jobs/" + first + "/retry", new JsonObject()).statusCode()).isEqualTo(404);

    assertThat(api.request(HttpMethod.DELETE, INF + "/jobs/" + second).statusCode()).isEqualTo(204);
    assertThat(Api.await(node.storage().head(object))).isEmpty();
    Row left = Api.await(node.pool().preparedQuery("""
        SELECT (SELECT count(*) FROM job_images WHERE job_id = ANY($1)) AS images,
               (SELECT count(*) FROM image_results WHERE job_id = ANY($1)) AS results,
               (SELECT count(*) FROM job_events WHERE job_id = ANY($1)) AS events,
               (SELECT count(*) FROM job_chunks WHERE job_id = ANY($1)) AS chunks,
               (SELECT count(*) FROM upload_sessions WHERE id = $2) AS sessions,
               (SELECT count(*) FROM uploaded_files WHERE session_id = $2) AS files""")
        .execute(Tuple.of(new Long[] {first, second}, java.util.UUID.fromString(session)))).iterator().next();
    for (String column : List.of("images", "results", "events", "chunks", "sessions", "files")) {
      assertThat(left.getLong(column)).as(column).isZero();
    }
    // browsers listening to all jobs are told, so that their lists drop the jobs
    Api.await(all.until(evs -> evs.stream().filter(e -> e.type().equals("deleted")).count() == 2));
    all.close();
  }

  @Test
  void retentionDeletesOldEndedJobsAndUnusedUploads() {
    JsonObject up = api.upload(1, List.of(Map.entry("dog.jpg", IMAGES.resolve("dog.jpg")))).bodyAsJsonObject();
    String usedSession = up.getString("inference_session_id");
    long old = api.createJob(Api.jobRequest(new JsonObject().put("inference_session_id", usedSession)));
    long recent = api.createJob(Api.jobRequest(new JsonObject().put("image_uris",
        new JsonArray().add(results.get(0).getString("s3_uri")))));
    api.awaitTerminal(old);
    api.awaitTerminal(recent);
    JsonObject unused = api.upload(1, List.of(Map.entry("person.jpg", IMAGES.resolve("person.jpg"))))
        .bodyAsJsonObject();
    S3Uri unusedObject = S3Uri.parse(unused.getJsonArray("uploaded_files").getJsonObject(0).getString("s3_uri"))
        .orElseThrow();
    Api.await(node.pool().preparedQuery("UPDATE inference_jobs SET completed_at = now() - interval '40 days' "
        + "WHERE id = $1").execute(Tuple.of(old)));
    Api.await(node.pool().preparedQuery("UPDATE upload_sessions SET created_at = now() - interval '40 days' "
        + "WHERE id = ANY($1)").execute(Tuple.of(sessions(usedSession, unused.getString("inference_session_id")))));

    Api.await(node.retention().sweep(30));
    assertThat(api.get(INF + "/jobs/" + old).statusCode()).isEqualTo(404);
    assertThat(api.get(INF + "/jobs/" + recent).statusCode()).isEqualTo(200);
    assertThat(Api.await(node.storage().head(unusedObject))).isEmpty();
    assertThat(Api.await(node.pool().preparedQuery("SELECT count(*) AS n FROM upload_sessions WHERE id = ANY($1)")
        .execute(Tuple.of(sessions(usedSession, unused.getString("inference_session_id")))))
        .iterator().next().getLong("n")).isZero();
  }

  static java.util.UUID[] sessions(String... ids) {
    return Arrays.stream(ids).map(java.util.UUID::fromString).toArray(java.util.UUID[]::new);
  }

  static Row firstResult(long id) {
    return Api.await(node.pool().preparedQuery(
            "SELECT created_at, inference_time_ms FROM image_results WHERE job_id = $1 AND image_index = 0")
        .execute(Tuple.of(id))).iterator().next();
  }

  static Map<String, String> unzip(byte[] zip) throws IOException {
    Map<String, String> out = new HashMap<>();
    try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip))) {
      for (ZipEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
        out.put(e.getName(), new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
    }
    return out;
  }
}
