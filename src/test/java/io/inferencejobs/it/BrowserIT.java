package io.inferencejobs.it;

import io.inferencejobs.app.Node;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.ExpectedCondition;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.logging.Level;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Base of the browser tests: the shared test service and a real headless Chromium (Debian's chromium and
 * chromium-driver) for each test class. Skipped where no Chromium is installed, unless REQUIRE_BROWSER=true, which
 * turns the skip into a failure.
 */
abstract class BrowserIT {
  static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  static final Path IMAGES = Path.of("src/test/resources/images");
  static final Duration JOB_TIMEOUT = Duration.ofSeconds(120);
  static final String MISSING = "browser tests need " + CHROMIUM + " and " + CHROMEDRIVER
      + " (Debian packages chromium and chromium-driver)";

  static Node node;
  static ChromeDriver driver;
  static Path profile;
  static String base;

  @BeforeAll
  static void start() throws IOException {
    if (!browserInstalled()) {
      if ("true".equalsIgnoreCase(System.getenv("REQUIRE_BROWSER"))) {
        fail(MISSING + ", and REQUIRE_BROWSER=true");
      }
      // each test then reports itself skipped with this reason (see skipWithoutBrowser)
      System.err.println("browser tests skipped: " + MISSING);
      return;
    }
    node = TestService.shared();
    base = "http://127.0.0.1:" + node.httpPort() + "/";

    // the installed driver and browser only: Selenium Manager must not look for (or download) others
    System.setProperty("SE_OFFLINE", "true");
    System.setProperty("webdriver.chrome.driver", CHROMEDRIVER.toString());
    profile = Files.createTempDirectory("webui-chromium-");
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--window-size=1440,1200", "--user-data-dir=" + profile.toAbsolutePath());
    LoggingPreferences logs = new LoggingPreferences();
    logs.enable(LogType.BROWSER, Level.ALL);
    options.setCapability("goog:loggingPrefs", logs);
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(CHROMEDRIVER.toFile())
        .usingAnyFreePort()
        .build();
    driver = new ChromeDriver(service, options);
  }

  @AfterAll
  static void stop() throws IOException {
    if (driver != null) {
      driver.quit();
    }
    if (profile != null) {
      try (Stream<Path> files = Files.walk(profile)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  static boolean browserInstalled() {
    return Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER);
  }

  @BeforeEach
  void skipWithoutBrowser() {
    Assumptions.assumeTrue(driver != null, () -> "skipped: " + MISSING);
    driver.manage().logs().get(LogType.BROWSER); // forget console messages of earlier tests
  }

  /** "status content-type bytes" of a GET made by the page itself (same origin, same credentials as its links). */
  static String fetch(String url) {
    return (String) ((JavascriptExecutor) driver).executeAsyncScript(
        "const done = arguments[arguments.length - 1];"
            + "fetch(arguments[0]).then(r => r.arrayBuffer().then(b => done(r.status + ' '"
            + " + (r.headers.get('Content-Type') || '-').split(';')[0] + ' ' + b.byteLength)))"
            + ".catch(e => done('error ' + e));", url);
  }

  static String text(String id) {
    return driver.findElement(By.id(id)).getText();
  }

  static ExpectedCondition<Boolean> textIs(By by, String expected) {
    return d -> expected.equals(d.findElement(by).getText());
  }

  static void screenshotIfAsked() throws IOException {
    String target = System.getenv("UI_SCREENSHOT");
    if (target == null || target.isBlank()) {
      return;
    }
    Path out = Path.of(target);
    if (out.getParent() != null) {
      Files.createDirectories(out.getParent());
    }
    Files.write(out, driver.getScreenshotAs(OutputType.BYTES));
  }

  static void assertNoScriptErrors(String... expected) {
    List<String> severe = driver.manage().logs().get(LogType.BROWSER).getAll().stream()
        .filter(e -> e.getLevel().intValue() >= Level.SEVERE.intValue()).map(LogEntry::getMessage)
        .filter(m -> java.util.Arrays.stream(expected).noneMatch(m::contains)).toList();
    assertThat(severe).as("errors in the browser console").isEmpty();
  }
}
