package io.inferencejobs.it;

import io.inferencejobs.app.Node;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.Rectangle;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The web UI in a real headless Chromium (Debian's chromium and chromium-driver): upload, start, watch the job over its
 * event stream, see the boxes on the stored images, reload, filter. Skipped where no Chromium is installed, unless
 * REQUIRE_BROWSER=true, which turns the skip into a failure. UI_SCREENSHOT=path writes a screenshot of the results.
 */
class WebUiIT extends BrowserIT {
  @Test
  void uploadRunWatchReloadAndFilter() throws IOException {
    driver.get(base);
    WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(20));
    // the form starts with the API's defaults and the pretrained checkpoint of the bundled training job
    wait.until(d -> !new Select(d.findElement(By.id("checkpoint"))).getOptions().isEmpty());
    assertThat(new Select(driver.findElement(By.id("training-job"))).getFirstSelectedOption().getText())
        .contains("pretrained-coco80");
    assertThat(new Select(driver.findElement(By.id("checkpoint"))).getFirstSelectedOption().getAttribute("value"))
        .isEqualTo("pretrained");
    assertThat(driver.findElement(By.id("confidence")).getDomProperty("value")).isEqualTo("0.25");
    assertThat(driver.findElement(By.id("iou")).getDomProperty("value")).isEqualTo("0.45");
    assertThat(driver.findElement(By.id("max-detections")).getDomProperty("value")).isEqualTo("100");

    driver.findElement(By.id("file-input")).sendKeys(IMAGES.resolve("dog.jpg").toAbsolutePath() + "\n"
        + IMAGES.resolve("person.jpg").toAbsolutePath());
    wait.until(d -> d.findElements(By.cssSelector("#file-list li")).size() == 2);
    // the chooser says what was chosen (a bare file input would still say "No file chosen")
    assertThat(text("file-summary")).startsWith("2 images chosen (");
    driver.findElement(By.id("start-job")).click();

    wait.until(d -> d.getCurrentUrl().matches(".*\\?job=\\d+$"));
    String jobId = driver.getCurrentUrl().replaceAll(".*\\?job=", "");
    new WebDriverWait(driver, JOB_TIMEOUT).until(textIs(By.id("job-status"), "completed"));
    wait.until(textIs(By.id("progress-percent"), "100%"));
    assertThat(text("progress-text")).isEqualTo("2 of 2 images processed, 0 failed (100%)");
    assertThat(driver.findElement(By.id("progress-bar")).getDomProperty("value")).isEqualTo("100");
    assertThat(text("stream-state")).isEqualTo("finished");
    // it got there through the job's event stream: a snapshot, progress and image events, the terminal event
    WebElement view = driver.findElement(By.id("job-view"));
    assertThat(view.getAttribute("data-last-event")).isEqualTo("completed");
    assertThat(Integer.parseInt(view.getAttribute("data-stream-events"))).isGreaterThanOrEqualTo(5);
    // the recent-jobs list learns the new job and its end from the all-jobs stream
    wait.until(d -> !d.findElements(By.cssSelector(
        "#recent-jobs li[data-job-id='" + jobId + "'][data-status='completed']")).isEmpty());

    assertResults(wait);
    screenshotIfAsked();

    // a reload on the job's URL shows the same job and its results, drawn over the images stored by the service
    driver.navigate().refresh();
    wait.until(textIs(By.id("job-status"), "completed"));
    assertThat(driver.getCurrentUrl()).endsWith("?job=" + jobId);
    assertThat(text("job-title")).isEqualTo("Job " + jobId);
    assertThat(text("progress-text")).isEqualTo("2 of 2 images processed, 0 failed (100%)");
    assertResults(wait);
    assertThat(card("dog.jpg").findElement(By.tagName("img")).getDomProperty("src"))
        .isEqualTo(base + "api/v1/test_inference/inference/jobs/" + jobId + "/images/0");

    // only dogs: dog.jpg has one, person.jpg one too; every other box is hidden
    new Select(driver.findElement(By.id("class-filter"))).selectByVisibleText("dog");
    wait.until(d -> visibleClasses(card("dog.jpg")).equals(List.of("dog")));
    assertThat(visibleClasses(card("person.jpg"))).containsExactly("dog");
    assertThat(driver.findElements(By.cssSelector(".box-label")).stream().filter(WebElement::isDisplayed)
        .map(WebElement::getText).toList()).hasSize(2).allMatch(t -> t.startsWith("dog "));
    // the chips are drawn again with the service's counts: the chosen class is pressed
    wait.until(d -> "true".equals(((JavascriptExecutor) d).executeScript(
        "const b = document.querySelector(\"#class-counts button[data-class-name='dog']\");"
            + " return b && b.getAttribute('aria-pressed');")));

    // all classes again, then a minimum confidence of 0.50 set from the keyboard
    new Select(driver.findElement(By.id("class-filter"))).selectByValue("");
    WebElement min = driver.findElement(By.id("min-confidence"));
    min.sendKeys(Keys.ARROW_RIGHT.toString().repeat(50));
    wait.until(textIs(By.id("min-confidence-value"), "0.50"));
    assertThat(visibleClasses(card("dog.jpg"))).containsExactlyInAnyOrder("car", "bicycle");
    assertThat(visibleClasses(card("person.jpg"))).containsExactly("person");
    // the counts are the service's, over the whole job, at the new minimum
    wait.until(d -> "1".equals(((JavascriptExecutor) d).executeScript(
        "const li = document.querySelector(\"#class-counts li[data-class-name='person']\"); return li && li.dataset.count;")));

    assertNoScriptErrors();
  }

  @Test
  void aBrokenImageShowsItsErrorOnItsCard() throws IOException {
    Path dir = Files.createTempDirectory("webui-broken-");
    // a PNG whose header is well formed (so the upload takes it) but names more pixels than a worker decodes
    Path broken = dir.resolve("broken.png");
    Files.write(broken, oversizePng(30_000, 30_000));
    driver.get(base);
    WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(20));
    wait.until(d -> !new Select(d.findElement(By.id("checkpoint"))).getOptions().isEmpty());
    driver.findElement(By.id("file-input")).sendKeys(IMAGES.resolve("dog.jpg").toAbsolutePath() + "\n"
        + broken.toAbsolutePath());
    wait.until(d -> d.findElements(By.cssSelector("#file-list li")).size() == 2);
    driver.findElement(By.id("start-job")).click();
    new WebDriverWait(driver, JOB_TIMEOUT).until(d -> {
      String s = d.findElement(By.id("job-status")).getText();
      return s.equals("completed") || s.equals("failed");
    });
    wait.until(textIs(By.id("progress-percent"), "100%"));
    assertThat(text("progress-text")).isEqualTo("2 of 2 images processed, 1 failed (100%)");
    wait.until(d -> d.findElements(By.cssSelector(".result-card")).size() == 2);
    WebElement bad = card("broken.png");
    assertThat(bad.getAttribute("class")).contains("has-error");
    assertThat(bad.findElement(By.cssSelector(".image-error")).getText()).startsWith("Error: ").hasSizeGreaterThan(8);
    assertThat(card("dog.jpg").findElements(By.cssSelector(".image-error"))).isEmpty();
    assertThat(visibleClasses(card("dog.jpg"))).contains("dog", "bicycle", "car");
    String jobId = driver.getCurrentUrl().replaceAll(".*\\?job=", "");

    // every export downloads and is not empty; the annotated image of the good photo is a JPEG, the broken one has none
    List<WebElement> links = driver.findElements(By.cssSelector("#download-links a.download"));
    assertThat(links.stream().map(a -> a.getAttribute("data-format")).toList())
        .containsExactly("coco", "yolo", "csv", "jsonl", "errors", "labelstudio", "annotated");
    for (WebElement link : links) {
      assertThat(fetch(link.getAttribute("href"))).as(link.getAttribute("data-format")).startsWith("200 ")
          .satisfies(r -> assertThat(Long.parseLong(r.split(" ")[2])).isPositive());
    }
    assertThat(fetch(card("dog.jpg").findElement(By.cssSelector("a.annotated-link")).getAttribute("href")))
        .startsWith("200 image/jpeg");
    assertThat(bad.findElements(By.cssSelector("a.annotated-link"))).isEmpty();

    // retry runs the failed image again: a second attempt, which fails again the same way
    driver.findElement(By.id("retry-job")).click();
    new WebDriverWait(driver, JOB_TIMEOUT).until(d -> text("job-meta").contains("attempt 2")
        && List.of("completed", "failed").contains(text("job-status")));
    wait.until(textIs(By.id("progress-text"), "2 of 2 images processed, 1 failed (100%)"));

    // delete asks first: keeping the job changes nothing, confirming removes it everywhere
    driver.findElement(By.id("delete-job")).click();
    wait.until(d -> d.findElement(By.id("delete-dialog")).isDisplayed());
    assertThat(text("delete-title")).isEqualTo("Delete job " + jobId + "?");
    driver.findElement(By.id("delete-keep")).click();
    wait.until(d -> !d.findElement(By.id("delete-dialog")).isDisplayed());
    assertThat(fetch("/api/v1/test_inference/inference/jobs/" + jobId)).startsWith("200 ");
    driver.findElement(By.id("delete-job")).click();
    wait.until(d -> d.findElement(By.id("delete-dialog")).isDisplayed());
    driver.findElement(By.id("delete-confirm")).click();
    wait.until(textIs(By.id("job-error"), "Job " + jobId + " was deleted."));
    assertThat(text("job-status")).isEqualTo("deleted");
    assertThat(driver.findElement(By.id("results")).isDisplayed()).isFalse();
    assertThat(driver.findElement(By.id("downloads")).isDisplayed()).isFalse();
    wait.until(d -> d.findElements(By.cssSelector("#recent-jobs li[data-job-id='" + jobId + "']")).isEmpty());
    assertThat(fetch("/api/v1/test_inference/inference/jobs/" + jobId)).startsWith("404 ");
    // the answers that were meant to be refusals (the broken image, the deleted job) and nothing else
    assertNoScriptErrors("/jobs/" + jobId + "/images/1 - Failed to load resource: the server responded with a "
        + "status of 422", "/jobs/" + jobId + " - Failed to load resource: the server responded with a status of 404");
  }


  @Test
  void masksAndASkeletonAreDrawnAndToggled() throws Exception {
    Api api = new Api(node.httpPort());
    try {
      long seg = trainingJob(api, "segmentation");
      long pose = trainingJob(api, "pose");
      assertThat(putModel(api, seg, "person_seg_yolov8seg_640.onnx")).isEqualTo(201);
      assertThat(putModel(api, pose, "movenet_multipose_yolov8pose_640.onnx")).isEqualTo(201);
      long segJob = job(api, seg);
      long poseJob = job(api, pose);
      WebDriverWait wait = new WebDriverWait(driver, JOB_TIMEOUT);

      driver.get(base + "?job=" + segJob);
      wait.until(d -> !d.findElements(By.cssSelector(".result-card canvas.mask-layer")).isEmpty());
      WebElement mask = driver.findElement(By.cssSelector(".result-card canvas.mask-layer"));
      // the person's mask (about 14,200 px of 640x427) painted on a canvas scaled to at most 480 px: about 45%
      // of its pixels, and the canvas covers the photo
      long painted = Long.parseLong(mask.getAttribute("data-painted"));
      long area = api.allResults(segJob).get(0).getJsonArray("predictions").getJsonObject(0).getLong("area");
      double scale = Math.min(1, 480.0 / 640);
      assertThat((double) painted).isCloseTo(area * scale * scale, within(area * scale * scale * 0.15));
      Rectangle img = driver.findElement(By.cssSelector(".result-card img")).getRect();
      assertThat(mask.getRect().getWidth()).isEqualTo(img.getWidth());
      assertThat(mask.isDisplayed()).isTrue();
      driver.findElement(By.id("show-masks")).click();
      wait.until(d -> !mask.isDisplayed());

      driver.get(base + "?job=" + poseJob);
      wait.until(d -> !d.findElements(By.cssSelector(".result-card svg.pose-layer line")).isEmpty());
      // person.jpg's pose: the limbs between keypoints scored 0.3 or more, and those keypoints as dots
      assertThat(driver.findElements(By.cssSelector(".result-card svg.pose-layer line")).size())
          .isGreaterThanOrEqualTo(12);
      assertThat(driver.findElements(By.cssSelector(".result-card svg.pose-layer circle"))).hasSize(16);
      WebElement skeleton = driver.findElement(By.cssSelector(".result-card svg.pose-layer"));
      driver.findElement(By.id("show-keypoints")).click();
      wait.until(d -> !skeleton.isDisplayed());

      // a classifier's top classes are listed over the image, best first, with no box
      long classify = trainingJob(api, "classification");
      assertThat(api.request(io.vertx.core.http.HttpMethod.PUT, "/api/v1/training_jobs/" + classify
              + "/checkpoints/best", java.util.Map.of("Content-Type", "application/octet-stream"),
          io.vertx.core.buffer.Buffer.buffer(io.inferencejobs.inference.TinyOnnx.channelMeans(64, 64))).statusCode())
          .isEqualTo(201);
      long classifyJob = job(api, classify);
      driver.get(base + "?job=" + classifyJob);
      wait.until(d -> !d.findElements(By.cssSelector(".result-card .classifications li")).isEmpty());
      List<WebElement> top = driver.findElements(By.cssSelector(".result-card .classifications li"));
      assertThat(top.get(0).getText()).matches("class_\\d \\d+%");
      assertThat(driver.findElements(By.cssSelector(".result-card .box"))).isEmpty();
      assertNoScriptErrors();
    } finally {
      api.close();
    }
  }

  private static long trainingJob(Api api, String taskType) {
    return api.post("/api/v1/training_jobs", new io.vertx.core.json.JsonObject()
        .put("name", "ui-" + taskType + "-" + System.nanoTime()).put("task_type", taskType)).bodyAsJsonObject()
        .getLong("id");
  }

  private static int putModel(Api api, long trainingJob, String file) throws IOException {
    return api.request(io.vertx.core.http.HttpMethod.PUT, "/api/v1/training_jobs/" + trainingJob + "/checkpoints/best",
        java.util.Map.of("Content-Type", "application/octet-stream"), io.vertx.core.buffer.Buffer.buffer(
            Files.readAllBytes(Path.of("src/test/resources/models").resolve(file)))).statusCode();
  }

  private static long job(Api api, long trainingJob) {
    String session = api.upload(trainingJob, List.of(java.util.Map.entry("person.jpg", IMAGES.resolve("person.jpg"))))
        .bodyAsJsonObject().getString("inference_session_id");
    long id = api.createJob(new io.vertx.core.json.JsonObject().put("training_job_id", trainingJob)
        .put("checkpoint_path", "best").put("inference_type", "batch").put("input_data",
            new io.vertx.core.json.JsonObject().put("inference_session_id", session).put("iou_threshold", 0.7)
                .put("agnostic_nms", true)));
    assertThat(api.awaitTerminal(id).getString("status")).isEqualTo("completed");
    return id;
  }

  @Test
  void theApiPageShowsEveryOperationOfTheContract() {
    driver.get(base + "api/v1/docs");
    WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(20));
    wait.until(d -> !d.findElements(By.id("createInferenceJob")).isEmpty());
    Contract contract = new Contract(io.vertx.core.Vertx.vertx());
    for (Contract.Op op : contract.ops) {
      assertThat(driver.findElements(By.id(op.id()))).as(op.id()).hasSize(1);
    }
    assertThat(driver.findElement(By.id("uploadCheckpoint")).getText()).contains("admin scope")
        .contains("application/octet-stream");
    assertThat(driver.findElements(By.id("schema-Job"))).hasSize(1);
    assertNoScriptErrors();
  }

  @Test
  void anUnknownJobSaysSo() {
    driver.get(base + "?job=987654321");
    new WebDriverWait(driver, Duration.ofSeconds(20)).until(d -> d.findElement(By.id("job-error")).isDisplayed());
    assertThat(text("job-error")).isEqualTo("Job 987654321 does not exist.");
    assertThat(driver.findElement(By.id("results")).isDisplayed()).isFalse();
    // no progress bar, rate or time left for a job that is not there
    assertThat(driver.findElement(By.id("progress-bar")).isDisplayed()).isFalse();
    assertThat(driver.findElement(By.id("job-progress")).isDisplayed()).isFalse();
  }

  // ------------------------------------------------------------------ helpers

  /** A PNG of a signature, an IHDR chunk for {@code width} x {@code height} and an IEND chunk: no pixel data. */
  static byte[] oversizePng(int width, int height) {
    java.nio.ByteBuffer ihdr = java.nio.ByteBuffer.allocate(13).putInt(width).putInt(height)
        .put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A});
    chunk(out, "IHDR", ihdr.array());
    chunk(out, "IEND", new byte[0]);
    return out.toByteArray();
  }

  private static void chunk(java.io.ByteArrayOutputStream out, String type, byte[] data) {
    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    byte[] t = type.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    crc.update(t);
    crc.update(data);
    out.writeBytes(java.nio.ByteBuffer.allocate(4).putInt(data.length).array());
    out.writeBytes(t);
    out.writeBytes(data);
    out.writeBytes(java.nio.ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
  }

  /** The two result cards with their original names, labels and boxes placed over the image in scale. */
  private void assertResults(WebDriverWait wait) {
    wait.until(d -> d.findElements(By.cssSelector(".result-card")).size() == 2 && imagesLoaded());
    assertThat(driver.findElements(By.cssSelector(".result-card .image-name")).stream().map(WebElement::getText)
        .toList()).containsExactly("dog.jpg", "person.jpg");
    assertThat(visibleClasses(card("dog.jpg"))).contains("dog", "bicycle", "car");
    assertThat(visibleClasses(card("person.jpg"))).contains("person");
    assertThat(card("person.jpg").findElements(By.cssSelector(".box-label")).stream().map(WebElement::getText)
        .toList()).anyMatch(t -> t.matches("person \\d+%"));
    assertThat(driver.findElements(By.cssSelector(".image-error"))).isEmpty();

    // the dog's box (125,210)-(310,538) on the 768x576 photo, scaled to the displayed image
    WebElement dogCard = card("dog.jpg");
    Rectangle img = dogCard.findElement(By.tagName("img")).getRect();
    Rectangle box = dogCard.findElement(By.cssSelector(".box[data-class-name='dog']")).getRect();
    double scale = img.getWidth() / 768.0;
    assertThat(img.getHeight()).isCloseTo((int) Math.round(576 * scale), within(2));
    assertThat(box.getX() - img.getX()).isCloseTo((int) Math.round(125 * scale), within(4));
    assertThat(box.getY() - img.getY()).isCloseTo((int) Math.round(210 * scale), within(4));
    assertThat(box.getWidth()).isCloseTo((int) Math.round(185 * scale), within(4));
    assertThat(box.getHeight()).isCloseTo((int) Math.round(328 * scale), within(4));
  }

  private boolean imagesLoaded() {
    return Boolean.TRUE.equals(((JavascriptExecutor) driver).executeScript(
        "return [...document.querySelectorAll('.result-card img')].every(i => i.complete && i.naturalWidth > 0);"));
  }

  private static WebElement card(String imageName) {
    return driver.findElement(By.cssSelector(".result-card[data-image-name='" + imageName + "']"));
  }

  private static List<String> visibleClasses(WebElement card) {
    return card.findElements(By.cssSelector(".box")).stream().filter(WebElement::isDisplayed)
        .map(b -> b.getAttribute("data-class-name")).toList();
  }

  @Test
  void aServiceThatRequiresAKeyWorksOnceTheKeyIsEntered() throws Exception {
    String key = "webui-test-key-" + System.nanoTime();
    String hash = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
        .digest(key.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    java.util.Map<String, String> env = new java.util.HashMap<>(TestService.settings("webui-auth"));
    env.put("AUTH_ENABLED", "true");
    env.put("API_KEYS", "browser:write:" + hash);
    Node keyed = TestService.start(env);
    try {
      String url = "http://127.0.0.1:" + keyed.httpPort() + "/";
      driver.get(url);
      WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(20));
      // without a key the page says what it needs instead of failing silently
      wait.until(textIs(By.id("key-message"), "This service needs an API key."));
      driver.findElement(By.id("api-key")).sendKeys(key);
      driver.findElement(By.id("key-save")).click();
      wait.until(d -> !new Select(d.findElement(By.id("checkpoint"))).getOptions().isEmpty());
      wait.until(textIs(By.id("live-state"), "live"));

      driver.findElement(By.id("file-input")).sendKeys(IMAGES.resolve("dog.jpg").toAbsolutePath().toString());
      wait.until(d -> d.findElements(By.cssSelector("#file-list li")).size() == 1);
      driver.findElement(By.id("start-job")).click();
      new WebDriverWait(driver, JOB_TIMEOUT).until(textIs(By.id("job-status"), "completed"));
      // the job's progress came over its event stream, opened with a stream token
      WebElement view = driver.findElement(By.id("job-view"));
      assertThat(view.getAttribute("data-last-event")).isEqualTo("completed");
      assertThat(Integer.parseInt(view.getAttribute("data-stream-events"))).isGreaterThanOrEqualTo(3);
      // and the stored image, loaded by <img> with the token, is really there
      WebElement img = wait.until(d -> d.findElement(By.cssSelector(".result-card img")));
      wait.until(d -> ((Number) ((JavascriptExecutor) d).executeScript(
          "return arguments[0].complete ? arguments[0].naturalWidth : 0", img)).intValue() == 768);
      assertThat(img.getAttribute("src")).contains("access_token=");
      assertThat(driver.findElements(By.cssSelector(".box-label")).stream().map(WebElement::getText).toList())
          .anyMatch(label -> label.startsWith("dog"));
      // a download link alone gets 401 (no header, no token); clicked, it carries a fresh stream token and works
      WebElement coco = driver.findElement(By.cssSelector("#download-links a[data-format='coco']"));
      assertThat(fetch(coco.getAttribute("href"))).startsWith("401 ");
      ((JavascriptExecutor) driver).executeScript("arguments[0].click()", coco);
      wait.until(d -> coco.getAttribute("href").contains("access_token="));
      assertThat(fetch(coco.getAttribute("href"))).startsWith("200 application/json");
    } finally {
      ((JavascriptExecutor) driver).executeScript("sessionStorage.clear()");
      keyed.close();
    }
  }




}
