package io.inferencejobs.it;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import static io.inferencejobs.it.Api.INF;
import static org.assertj.core.api.Assertions.assertThat;

/** GET /metrics on the shared service: Prometheus text with Vert.x and domain meters that move when a job runs. */
class MetricsIT extends SharedServiceIT {

  static String scrape() {
    HttpResponse<Buffer> r = api.get("/metrics");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.getHeader("Content-Type")).startsWith("text/plain");
    return r.bodyAsString();
  }

  /** The sum of every sample of {@code name} whose labels contain every {@code label}. */
  static double sum(String text, String name, String... labels) {
    double total = 0;
    for (String line : text.split("\n")) {
      if (line.startsWith("#") || !(line.startsWith(name + "{") || line.startsWith(name + " "))) {
        continue;
      }
      String labelPart = line.contains("{") ? line.substring(line.indexOf('{'), line.lastIndexOf('}') + 1) : "";
      boolean all = true;
      for (String l : labels) {
        all &= labelPart.contains(l);
      }
      if (all) {
        total += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return total;
  }

  @Test
  void metricsArePresentAndMoveWhenAJobRuns() throws InterruptedException {
    assertThat(api.get("/health/live").statusCode()).isEqualTo(200);
    String before = scrape();
    for (String present : List.of("vertx_http_server_requests_total", "vertx_eventbus_", "vertx_pool_",
        "inference_jobs{", "inference_chunks_open{", "sse_connections", "pool_tasks_in_flight", "jvm_memory_used")) {
      assertThat(before).as(present).contains(present);
    }
    HttpResponse<Buffer> up = api.upload(1, List.of(Map.entry("dog.jpg", JobFlowIT.IMAGES.resolve("dog.jpg")),
        Map.entry("eagle.jpg", JobFlowIT.IMAGES.resolve("eagle.jpg"))));
    assertThat(up.statusCode()).isEqualTo(200);
    long job = api.createJob(Api.jobRequest(new JsonObject().put("inference_session_id",
        up.bodyAsJsonObject().getString("inference_session_id"))));
    // the all-jobs stream stays open (a job's stream ends with the job)
    Api.Stream dashboard = api.stream(INF + "/events", null);
    Api.await(dashboard.until(events -> !events.isEmpty()));
    double open = sum(scrape(), "sse_connections");
    dashboard.close();
    assertThat(open).isGreaterThanOrEqualTo(1);
    api.awaitTerminal(job);

    String after = scrape();
    String worker = "device=\"";
    assertThat(sum(after, "inference_images_processed_total", worker) - sum(before, "inference_images_processed_total"))
        .isEqualTo(2);
    assertThat(after).containsPattern("inference_images_processed_total\\{[^}]*device=\"[^\"]+\"[^}]*node=\"[^\"]+\"");
    for (String stage : List.of("decode", "preprocess", "inference", "postprocess")) {
      String l = "stage=\"" + stage + "\"";
      assertThat(sum(after, "inference_stage_time_seconds_count", l) - sum(before, "inference_stage_time_seconds_count",
          l)).as(stage).isEqualTo(2);
    }
    assertThat(sum(after, "inference_batch_size_sum") - sum(before, "inference_batch_size_sum")).isEqualTo(2);
    assertThat(sum(after, "inference_chunks_leased_total") - sum(before, "inference_chunks_leased_total"))
        .isGreaterThanOrEqualTo(1);
    assertThat(sum(after, "inference_job_queue_time_seconds_count")
        - sum(before, "inference_job_queue_time_seconds_count")).isEqualTo(1);
    assertThat(sum(after, "inference_model_cache_hits_total") + sum(after, "inference_model_loads_total")
        - sum(before, "inference_model_cache_hits_total") - sum(before, "inference_model_loads_total"))
        .isGreaterThanOrEqualTo(1);
    assertThat(sum(after, "vertx_http_server_requests_total") - sum(before, "vertx_http_server_requests_total"))
        .isGreaterThanOrEqualTo(3);
    // jobs by state come from a count refreshed every few seconds
    double completedBefore = sum(before, "inference_jobs", "state=\"completed\"");
    awaitScrape(text -> sum(text, "inference_jobs", "state=\"completed\"") >= completedBefore + 1);
  }

  /** Scrapes until the condition holds (the state gauges refresh every 5 s), for at most 20 s. */
  static void awaitScrape(Predicate<String> condition) throws InterruptedException {
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (!condition.test(scrape())) {
      assertThat(System.nanoTime()).as("the metrics never showed the change").isLessThan(deadline);
      Thread.sleep(250);
    }
  }
}
