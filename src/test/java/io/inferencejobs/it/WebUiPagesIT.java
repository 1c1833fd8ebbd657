package io.inferencejobs.it;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.interactions.Actions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The UI past one job's page, in headless Chromium: the gallery of a 2,000-image job, the image detail view, the jobs
 * page (search, filters, retry, delete, exports), the models page (register, upload), a phone's width, and the error
 * states each with one message.
 */
class WebUiPagesIT extends BrowserIT {
  static final int LARGE = 2000;
  static final Dimension DESKTOP = new Dimension(1440, 1200);
  static Long largeJob;

  @AfterEach
  void desktopAgain() {
    if (driver != null) {
      driver.manage().window().setSize(DESKTOP);
    }
  }

  static Object js(String script, Object... args) {
    return ((JavascriptExecutor) driver).executeScript(script, args);
  }

  static WebDriverWait waitFor(int seconds) {
    WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(seconds));
    wait.pollingEvery(Duration.ofMillis(25));
    return wait;
  }

  /** A pretrained job on the given sample photos (and any extra URIs), run to its end. */
  static long photoJob(Api api, List<String> photos, List<String> extraUris) {
    JsonArray uris = new JsonArray();
    if (!photos.isEmpty()) {
      JsonObject up = api.upload(1, photos.stream().map(n -> Map.entry(n, IMAGES.resolve(n))).toList())
          .bodyAsJsonObject();
      up.getJsonArray("uploaded_files").forEach(f -> uris.add(((JsonObject) f).getString("s3_uri")));
    }
    extraUris.forEach(uris::add);
    long id = api.createJob(Api.jobRequest(new JsonObject().put("image_uris", uris)));
    api.awaitTerminal(id);
    return id;
  }

  /**
   * A job of 2,000 results: dog.jpg run for real, then its result copied in PostgreSQL to 1,999 more images of the
   * same stored photo, named img-00001.jpg and on, image i keeping the first i mod 6 of the dog's predictions. Running
   * 2,000 images through the model would take minutes here; what this test is about is the page holding them.
   */
  static synchronized long largeJob() {
    if (largeJob != null) {
      return largeJob;
    }
    try (Api api = new Api(node.httpPort())) {
      long id = photoJob(api, List.of("dog.jpg"), List.of());
      Tuple job = Tuple.of(id, LARGE - 1);
      Api.await(node.pool().withTransaction(c -> c.preparedQuery("""
              INSERT INTO job_images (job_id, image_index, s3_uri, image_name)
              SELECT $1, g, i.s3_uri, 'img-' || lpad(g::text, 5, '0') || '.jpg'
              FROM job_images i, generate_series(1, $2) g WHERE i.job_id = $1 AND i.image_index = 0""").execute(job)
          .compose(v -> c.preparedQuery("""
              INSERT INTO image_results (job_id, image_index, width, height, predictions, num_detections)
              SELECT $1, g, r.width, r.height,
                     (SELECT COALESCE(jsonb_agg(p ORDER BY o), '[]'::jsonb)
                      FROM jsonb_array_elements(r.predictions) WITH ORDINALITY x(p, o) WHERE o <= g % 6),
                     LEAST(g % 6, r.num_detections)
              FROM image_results r, generate_series(1, $2) g WHERE r.job_id = $1 AND r.image_index = 0""")
              .execute(job))
          .compose(v -> c.preparedQuery("UPDATE inference_jobs SET total_images = $2 + 1, processed_images = $2 + 1"
              + " WHERE id = $1").execute(job))));
      largeJob = id;
      return id;
    }
  }

  static int galleryInt(String attribute) {
    String v = driver.findElement(By.id("gallery")).getAttribute(attribute);
    return v == null ? -1 : Integer.parseInt(v);
  }

  /** The gallery drew what is on screen where the page is scrolled now, with no page missing. */
  static boolean gallerySettled() {
    return Boolean.TRUE.equals(js("const g = document.getElementById('gallery');"
        + " return g.dataset.missingPages === '0' && g.dataset.cells !== '0'"
        + " && g.dataset.renderedAt === String(Math.round(window.scrollY));"));
  }

  @Test
  void aTwoThousandImageGalleryKeepsUnderTwoHundredImagesInTheDomWhileScrollingThroughAll() {
    long id = largeJob();
    driver.get(base + "?job=" + id);
    WebDriverWait wait = waitFor(30);
    wait.until(d -> galleryInt("data-matched") == LARGE && gallerySettled());
    assertThat(text("results-summary")).isEqualTo(LARGE + " images.");

    Set<String> seen = new HashSet<>();
    int most = 0;
    long height = ((Number) js("return document.documentElement.scrollHeight")).longValue();
    // about 120,000 px of gallery, down to the end. A render holds the rows on screen and two beyond each edge, so a
    // step of one window and three rows still leaves no row unseen.
    for (int step = 0; step < 400; step++) {
      @SuppressWarnings("unchecked")
      Map<String, Object> now = wait.until(d -> (Map<String, Object>) js("""
          const g = document.getElementById('gallery');
          if (g.dataset.missingPages !== '0' || g.dataset.cells === '0'
              || g.dataset.renderedAt !== String(Math.round(window.scrollY))) return null;
          return {
            names: [...g.querySelectorAll('.result-card')].map(c => c.dataset.imageName),
            images: document.querySelectorAll('img').length,
            end: window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2,
            row: g.querySelector('.result-card').getBoundingClientRect().height + 12,
          };"""));
      @SuppressWarnings("unchecked")
      List<String> names = (List<String>) now.get("names");
      seen.addAll(names);
      int images = ((Number) now.get("images")).intValue();
      most = Math.max(most, images);
      assertThat(images).as("img elements at step %d", step).isLessThan(200);
      if (Boolean.TRUE.equals(now.get("end"))) {
        break;
      }
      js("window.scrollBy(0, window.innerHeight + 3 * arguments[0])", now.get("row"));
    }
    assertThat(height).isGreaterThan(50_000);
    assertThat(seen).hasSize(LARGE).contains("dog.jpg", "img-00001.jpg", "img-01999.jpg");
    assertThat(most).isPositive();
    System.out.printf("gallery of %d images: at most %d img elements in the page while scrolling through it%n",
        LARGE, most);

    // sorted by the service: most detections first, then failed only (none failed here)
    js("window.scrollTo(0, 0)");
    new Select(driver.findElement(By.id("sort"))).selectByVisibleText("Most detections");
    wait.until(d -> gallerySettled() && "5".equals(firstCardData("detections")));
    new Select(driver.findElement(By.id("sort"))).selectByVisibleText("Name");
    wait.until(d -> gallerySettled() && "dog.jpg".equals(firstCardData("imageName")));
    // the drawing toggles: labels off hides every label, boxes off leaves no outline
    WebElement label = firstCard().findElement(By.cssSelector(".box-label"));
    assertThat(label.isDisplayed()).isTrue();
    driver.findElement(By.id("show-labels")).click();
    assertThat(label.isDisplayed()).isFalse();
    driver.findElement(By.id("show-labels")).click();
    assertThat(label.isDisplayed()).isTrue();
    driver.findElement(By.id("show-boxes")).click();
    assertThat(js("return getComputedStyle(arguments[0]).borderTopColor",
        firstCard().findElement(By.cssSelector(".box")))).isEqualTo("rgba(0, 0, 0, 0)");
    driver.findElement(By.id("show-boxes")).click();
    driver.findElement(By.id("failed-only")).click();
    wait.until(d -> "No images match these filters.".equals(text("results-summary")));
    assertThat(driver.findElements(By.cssSelector("#gallery .result-card"))).isEmpty();
    assertNoScriptErrors();
  }

  /** A data attribute of the gallery's first cell, read in one step (cells are redrawn as the order changes). */
  static Object firstCardData(String key) {
    return js("const c = document.querySelector(\"#gallery .result-card[data-pos='0']\"); return c && c.dataset[arguments[0]];",
        key);
  }

  static WebElement firstCard() {
    return driver.findElements(By.cssSelector("#gallery .result-card[data-pos='0']")).stream().findFirst()
        .orElse(null);
  }

  @Test
  void theDetailViewListsEveryPredictionZoomsAndSteps() {
    long id = largeJob();
    List<JsonObject> results;
    try (Api api = new Api(node.httpPort())) {
      results = List.of(api.get(Api.INF + "/jobs/" + id + "/results?limit=2").bodyAsJsonObject()
          .getJsonArray("results").stream().map(JsonObject.class::cast).toArray(JsonObject[]::new));
    }
    driver.get(base + "?job=" + id);
    WebDriverWait wait = waitFor(30);
    wait.until(d -> gallerySettled());
    firstCard().findElement(By.cssSelector(".thumb")).click();
    WebElement dialog = driver.findElement(By.id("image-dialog"));
    wait.until(d -> dialog.isDisplayed() && "dog.jpg".equals(text("detail-title")));
    assertThat(text("detail-position")).isEqualTo("1 of " + LARGE);

    // every prediction of the results API, most confident first, with its class, score and box
    JsonArray preds = results.get(0).getJsonArray("predictions");
    List<WebElement> rows = driver.findElements(By.cssSelector("#detail-predictions tr"));
    assertThat(rows).hasSize(preds.size());
    JsonObject best = preds.stream().map(JsonObject.class::cast)
        .max((a, b) -> Double.compare(a.getDouble("confidence"), b.getDouble("confidence"))).orElseThrow();
    List<WebElement> cells = rows.get(0).findElements(By.tagName("td"));
    assertThat(cells.get(0).getText()).isEqualTo(best.getString("class_name"));
    assertThat(cells.get(1).getText()).isEqualTo(String.format("%.1f%%", best.getDouble("confidence") * 100));
    JsonObject b = best.getJsonObject("bbox");
    assertThat(cells.get(2).getText()).isEqualTo(Math.round(b.getDouble("x1")) + ", " + Math.round(b.getDouble("y1"))
        + ", " + Math.round(b.getDouble("x2")) + ", " + Math.round(b.getDouble("y2")));

    // hovering a row lights its box up (and dims the others)
    new Actions(driver).moveToElement(rows.get(0)).perform();
    String pred = rows.get(0).getAttribute("data-pred");
    wait.until(d -> d.findElement(By.cssSelector("#detail-canvas .box[data-pred='" + pred + "']"))
        .getAttribute("class").contains("highlight"));
    assertThat(driver.findElement(By.id("detail-canvas")).getAttribute("class")).contains("focusing");

    // zoom in with the button and the keyboard, back to fit
    double fit = Double.parseDouble(dialog.getAttribute("data-zoom"));
    driver.findElement(By.id("zoom-in")).click();
    assertThat(Double.parseDouble(dialog.getAttribute("data-zoom"))).isCloseTo(fit * 1.25,
        org.assertj.core.data.Offset.offset(1e-3));
    dialog.sendKeys("+");
    assertThat(Double.parseDouble(dialog.getAttribute("data-zoom"))).isGreaterThan(fit * 1.5);
    driver.findElement(By.id("zoom-fit")).click();
    assertThat(Double.parseDouble(dialog.getAttribute("data-zoom"))).isEqualTo(fit);

    // the next image from the keyboard: img-00001.jpg and its one prediction
    new Actions(driver).sendKeys(Keys.ARROW_RIGHT).perform();
    wait.until(d -> "img-00001.jpg".equals(text("detail-title")));
    assertThat(text("detail-position")).isEqualTo("2 of " + LARGE);
    assertThat(driver.findElements(By.cssSelector("#detail-predictions tr")))
        .hasSize(results.get(1).getJsonArray("predictions").size());
    assertThat(fetch(driver.findElement(By.id("detail-annotated")).getAttribute("href"))).startsWith("200 image/jpeg");
    new Actions(driver).sendKeys(Keys.ESCAPE).perform();
    wait.until(d -> !dialog.isDisplayed());
    assertNoScriptErrors();
  }

  @Test
  void theJobsPageSearchesFiltersRetriesDeletesAndExports() {
    long ok;
    long withFailure;
    try (Api api = new Api(node.httpPort())) {
      ok = photoJob(api, List.of("person.jpg"), List.of());
      withFailure = photoJob(api, List.of("dog.jpg"), List.of("s3://" + node.storage().bucket() + "/ui/gone.jpg"));
    }
    driver.get(base + "?view=jobs");
    WebDriverWait wait = waitFor(30);
    wait.until(d -> !d.findElements(By.cssSelector("#jobs-rows tr[data-job-id='" + withFailure + "']")).isEmpty());
    assertThat(driver.findElement(By.cssSelector(".nav a[data-view='jobs']")).getAttribute("aria-current"))
        .isEqualTo("page");

    // search by id: that job only
    driver.findElement(By.id("jobs-search")).sendKeys(String.valueOf(ok));
    wait.until(d -> d.findElements(By.cssSelector("#jobs-rows tr")).size() == 1);
    assertThat(driver.findElement(By.cssSelector("#jobs-rows tr")).getAttribute("data-job-id"))
        .isEqualTo(String.valueOf(ok));
    driver.findElement(By.id("jobs-search")).clear();
    driver.findElement(By.id("jobs-search")).sendKeys(Keys.BACK_SPACE);

    // a day in the future has no jobs; the status filter keeps completed ones
    js("const f = document.getElementById('jobs-from'); f.value = '2999-01-01'; f.dispatchEvent(new Event('change'))");
    wait.until(d -> d.findElement(By.id("jobs-empty")).isDisplayed());
    assertThat(text("jobs-empty")).isEqualTo("No jobs match these filters.");
    js("const f = document.getElementById('jobs-from'); f.value = ''; f.dispatchEvent(new Event('change'))");
    new Select(driver.findElement(By.id("jobs-status"))).selectByValue("completed");
    wait.until(d -> !d.findElements(By.cssSelector("#jobs-rows tr[data-job-id='" + ok + "']")).isEmpty());
    assertThat(driver.findElements(By.cssSelector("#jobs-rows tr")).stream().map(r -> r.getAttribute("data-status")))
        .containsOnly("completed");

    // every export of a row downloads and is not empty (the job with a missing image has an errors file too)
    WebElement row = driver.findElement(By.cssSelector("#jobs-rows tr[data-job-id='" + withFailure + "']"));
    row.findElement(By.cssSelector(".export-menu summary")).click();
    List<WebElement> links = row.findElements(By.cssSelector(".export-menu a.download"));
    assertThat(links).hasSize(7);
    for (WebElement link : links) {
      String got = fetch(link.getAttribute("href"));
      assertThat(got).as(link.getAttribute("data-format")).startsWith("200 ");
      assertThat(Long.parseLong(got.split(" ")[2])).as(link.getAttribute("data-format")).isPositive();
    }

    row.findElement(By.cssSelector(".export-menu summary")).click();

    // retry the job with a missing image: its row follows it through the all-jobs stream
    WebElement failing = driver.findElement(By.cssSelector("#jobs-rows tr[data-job-id='" + withFailure + "']"));
    failing.findElement(By.cssSelector("button[data-action='retry']")).click();
    wait.until(d -> text("jobs-message").equals("Job " + withFailure + " runs its failed images again."));
    try (Api api = new Api(node.httpPort())) {
      JsonObject again = api.awaitTerminal(withFailure);
      assertThat(again.getInteger("attempt")).isEqualTo(2);
    }

    // delete asks first, then the row goes and the job is gone
    WebElement row2 = driver.findElement(By.cssSelector("#jobs-rows tr[data-job-id='" + ok + "']"));
    row2.findElement(By.cssSelector("button[data-action='delete']")).click();
    wait.until(d -> d.findElement(By.id("delete-dialog")).isDisplayed());
    assertThat(text("delete-title")).isEqualTo("Delete job " + ok + "?");
    driver.findElement(By.id("delete-confirm")).click();
    wait.until(d -> d.findElements(By.cssSelector("#jobs-rows tr[data-job-id='" + ok + "']")).isEmpty());
    assertThat(text("jobs-message")).isEqualTo("Job " + ok + " was deleted.");
    assertThat(fetch("/api/v1/test_inference/inference/jobs/" + ok)).startsWith("404 ");
    assertNoScriptErrors("/jobs/" + ok + " - Failed to load resource: the server responded with a status of 404");
  }

  @Test
  void theModelsPageRegistersATrainingJobAndUploadsACheckpoint() {
    driver.get(base + "?view=models");
    WebDriverWait wait = waitFor(120);
    wait.until(d -> !d.findElements(By.cssSelector("#models-list li[data-name='pretrained-coco80']")).isEmpty());
    WebElement pretrained = driver.findElement(By.cssSelector("#models-list li[data-name='pretrained-coco80']"));
    assertThat(pretrained.findElement(By.cssSelector("tr[data-checkpoint='pretrained']")).getText())
        .contains("detection");

    String name = "ui-pose-" + System.nanoTime();
    driver.findElement(By.id("register-name")).sendKeys(name);
    new Select(driver.findElement(By.id("register-task"))).selectByValue("pose");
    driver.findElement(By.cssSelector("#register-form button[type='submit']")).click();
    wait.until(d -> text("register-message").endsWith("(" + name + ") registered."));
    wait.until(d -> new Select(d.findElement(By.id("upload-training"))).getFirstSelectedOption().getText()
        .startsWith(name));

    Path model = Path.of("src/test/resources/models/movenet_multipose_yolov8pose_640.onnx").toAbsolutePath();
    driver.findElement(By.id("upload-file")).sendKeys(model.toString());
    assertThat(driver.findElement(By.id("upload-name")).getDomProperty("value"))
        .isEqualTo("movenet_multipose_yolov8pose_640");
    assertThat(text("upload-file-name")).startsWith("movenet_multipose_yolov8pose_640.onnx (");
    driver.findElement(By.id("upload-submit")).click();
    wait.until(d -> text("upload-message").startsWith("Checkpoint movenet_multipose_yolov8pose_640 stored: pose"));
    assertThat(text("upload-message")).contains("input 640 × 640");
    WebElement card = driver.findElement(By.cssSelector("#models-list li[data-name='" + name + "']"));
    WebElement checkpoint = card.findElement(By.cssSelector("tr[data-checkpoint='movenet_multipose_yolov8pose_640']"));
    List<String> cells = checkpoint.findElements(By.cssSelector("th, td")).stream().map(WebElement::getText).toList();
    assertThat(cells.get(1)).isEqualTo("pose");
    assertThat(cells.get(2)).isEqualTo("640 × 640");

    // a name the contract refuses gets its one message, naming the field
    driver.findElement(By.id("upload-file")).sendKeys(model.toString());
    driver.findElement(By.id("upload-name")).clear();
    driver.findElement(By.id("upload-name")).sendKeys("bad name!");
    driver.findElement(By.id("upload-submit")).click();
    wait.until(d -> text("upload-message").startsWith("Checkpoint name: "));
    assertThat(driver.switchTo().activeElement().getAttribute("id")).isEqualTo("upload-name");
    assertNoScriptErrors();
  }

  @Test
  void atAPhonesWidthNothingScrollsSideways() {
    long id = largeJob();
    driver.manage().window().setSize(new Dimension(390, 844));
    WebDriverWait wait = waitFor(30);
    for (String page : List.of("", "?view=jobs", "?view=models", "?job=" + id)) {
      driver.get(base + page);
      wait.until(d -> Boolean.TRUE.equals(js("return document.readyState === 'complete'")));
      if (page.startsWith("?job=")) {
        wait.until(d -> gallerySettled());
      } else if (page.equals("?view=jobs")) {
        wait.until(d -> !d.findElements(By.cssSelector("#jobs-rows tr")).isEmpty());
        // the rows are cards here; an open export menu stays on the screen too
        driver.findElement(By.cssSelector("#jobs-rows .export-menu summary")).click();
      } else if (page.equals("?view=models")) {
        wait.until(d -> !d.findElements(By.cssSelector("#models-list li")).isEmpty());
      }
      assertThat(((Number) js("return document.documentElement.scrollWidth - window.innerWidth")).intValue())
          .as("sideways scroll of '%s'", page).isLessThanOrEqualTo(0);
    }
    // the job's view comes before the new-job form, and its detail view fits the screen too
    assertThat(driver.findElement(By.id("job-view")).getRect().getY())
        .isLessThan(driver.findElement(By.id("job-form")).getRect().getY());
    firstCard().findElement(By.cssSelector(".thumb")).click();
    wait.until(d -> "dog.jpg".equals(text("detail-title")));
    WebElement dialog = driver.findElement(By.id("image-dialog"));
    assertThat(dialog.getRect().getWidth()).isLessThanOrEqualTo(390);
    assertThat(((Number) js("return document.getElementById('image-dialog').scrollWidth"
        + " - document.getElementById('image-dialog').clientWidth")).intValue()).isLessThanOrEqualTo(0);
    assertNoScriptErrors();
  }

  @Test
  void eachErrorStateSaysItOnce() throws Exception {
    driver.get(base);
    WebDriverWait wait = waitFor(120);
    wait.until(d -> !new Select(d.findElement(By.id("checkpoint"))).getOptions().isEmpty());

    // a checkpoint that does not exist: one message, not the message and its detail again
    driver.findElement(By.id("file-input")).sendKeys(IMAGES.resolve("dog.jpg").toAbsolutePath().toString());
    new Select(driver.findElement(By.id("checkpoint"))).selectByVisibleText("Other (S3 URI)…");
    String missing = "s3://" + node.storage().bucket() + "/ui/missing-" + System.nanoTime() + ".onnx";
    driver.findElement(By.id("checkpoint-uri")).sendKeys(missing);
    driver.findElement(By.id("start-job")).click();
    wait.until(d -> text("form-message").startsWith("Could not start the job: "));
    String message = text("form-message");
    assertThat(message).contains("does not exist");
    assertThat(message.split("does not exist", -1)).as(message).hasSize(2);

    // a checkpoint that starts like ONNX but does not load: the job fails and says why, once, with no time left
    byte[] model = Files.readAllBytes(Path.of("src/test/resources/models/movenet_multipose_yolov8pose_640.onnx"));
    String broken = "s3://" + node.storage().bucket() + "/ui/broken-" + System.nanoTime() + ".onnx";
    Api.await(node.storage().putBytes(io.inferencejobs.storage.S3Uri.parse(broken).orElseThrow(),
        Arrays.copyOf(model, 4096), "application/octet-stream"));
    driver.findElement(By.id("checkpoint-uri")).clear();
    driver.findElement(By.id("checkpoint-uri")).sendKeys(broken);
    driver.findElement(By.id("file-input")).sendKeys(IMAGES.resolve("dog.jpg").toAbsolutePath().toString());
    driver.findElement(By.id("start-job")).click();
    wait.until(d -> "failed".equals(text("job-status")));
    wait.until(d -> d.findElement(By.id("job-error")).isDisplayed());
    assertThat(text("job-error")).startsWith("This job failed: ");
    assertThat(driver.findElement(By.id("eta-item")).isDisplayed()).isFalse();
    assertThat(driver.findElement(By.id("results")).isDisplayed()).isFalse();
    String failedJob = driver.getCurrentUrl().replaceAll(".*\\?job=", "");

    // opening another job drops the form's "Job N started" line
    long other;
    try (Api api = new Api(node.httpPort())) {
      other = photoJob(api, List.of("person.jpg"), List.of());
    }
    driver.findElement(By.cssSelector(".nav a[data-view='jobs']")).click();
    wait.until(d -> !d.findElements(By.cssSelector("#jobs-rows a[data-job-id='" + other + "']")).isEmpty());
    driver.findElement(By.cssSelector("#jobs-rows a[data-job-id='" + other + "']")).click();
    wait.until(d -> "completed".equals(text("job-status")));
    assertThat(driver.findElement(By.id("form-message")).isDisplayed()).isFalse();
    assertThat(text("job-title")).isEqualTo("Job " + other);
    assertThat(failedJob).isNotEqualTo(String.valueOf(other));
    assertNoScriptErrors("status of 422");
  }
}
