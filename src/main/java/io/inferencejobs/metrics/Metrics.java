package io.inferencejobs.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.VertxOptions;
import io.vertx.core.spi.VertxMetricsFactory;
import io.vertx.micrometer.Label;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;

import java.time.Duration;
import java.util.EnumSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * One Prometheus registry per node: Vert.x's own meters (HTTP server, event bus, pools) through
 * vertx-micrometer-metrics, plus the domain meters defined here. Worker meters carry {@code node} and {@code device}.
 */
public final class Metrics {
  private final PrometheusMeterRegistry registry;

  private Metrics(PrometheusMeterRegistry registry) {
    this.registry = registry;
  }

  public static Metrics create() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    return new Metrics(registry);
  }

  /** Turns on Vert.x's meters (HTTP labelled by route, not by raw path, to bound cardinality). */
  public VertxMetricsFactory vertxFactory(VertxOptions options) {
    options.setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true)
        .setLabels(EnumSet.of(Label.HTTP_METHOD, Label.HTTP_CODE, Label.HTTP_ROUTE, Label.EB_ADDRESS, Label.EB_SIDE,
            Label.EB_FAILURE, Label.POOL_TYPE, Label.POOL_NAME, Label.CLIENT_NAME)));
    return new MicrometerMetricsFactory(registry);
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** The Prometheus text exposition. */
  public String scrape() {
    return registry.scrape();
  }

  public void gauge(String name, String description, Supplier<Number> value, String... tags) {
    io.micrometer.core.instrument.Gauge.builder(name, value).description(description).tags(tags).register(registry);
  }

  /** The meters of one worker (one device on one node). */
  public WorkerMeters worker(String node, String device) {
    return new WorkerMeters(registry, node, device);
  }

  public static final class WorkerMeters {
    public final Counter imagesProcessed;
    public final Counter imagesFailed;
    public final Counter chunksLeased;
    public final Counter modelCacheHits;
    public final Counter modelLoads;
    public final Timer timeInQueue;
    public final DistributionSummary batchSize;
    private final Timer decode;
    private final Timer preprocess;
    private final Timer inference;
    private final Timer postprocess;

    WorkerMeters(MeterRegistry r, String node, String device) {
      String[] tags = {"node", node, "device", device};
      imagesProcessed = Counter.builder("inference_images_processed").description("Images with a result (including "
          + "failed ones)").tags(tags).register(r);
      imagesFailed = Counter.builder("inference_images_failed").description("Images that could not be processed")
          .tags(tags).register(r);
      chunksLeased = Counter.builder("inference_chunks_leased").description("Chunks leased by this worker")
          .tags(tags).register(r);
      modelCacheHits = Counter.builder("inference_model_cache_hits").description("Checkpoint requests served by "
          + "a loaded engine").tags(tags).register(r);
      modelLoads = Counter.builder("inference_model_loads").description("Checkpoints loaded into an engine")
          .tags(tags).register(r);
      timeInQueue = Timer.builder("inference_job_queue_time").description("From job creation to its first "
          + "leased chunk").tags(tags).publishPercentileHistogram().maximumExpectedValue(Duration.ofHours(1))
          .register(r);
      batchSize = DistributionSummary.builder("inference_batch_size").description("Images per engine batch")
          .tags(tags).serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64).register(r);
      decode = stage(r, "decode", tags);
      preprocess = stage(r, "preprocess", tags);
      inference = stage(r, "inference", tags);
      postprocess = stage(r, "postprocess", tags);
    }

    private static Timer stage(MeterRegistry r, String stage, String[] tags) {
      return Timer.builder("inference_stage_time").description("Time per image in one stage of the engine")
          .tags(tags).tag("stage", stage).publishPercentileHistogram()
          .minimumExpectedValue(Duration.ofNanos(100_000)).maximumExpectedValue(Duration.ofSeconds(30)).register(r);
    }

    /** Records an image's stage times (milliseconds, as ImageResult reports them; null when not reached). */
    public void stages(Double decodeMs, Double preprocessMs, Double inferenceMs, Double postprocessMs) {
      record(decode, decodeMs);
      record(preprocess, preprocessMs);
      record(inference, inferenceMs);
      record(postprocess, postprocessMs);
    }

    private static void record(Timer t, Double ms) {
      if (ms != null && ms >= 0) {
        t.record((long) (ms * 1_000_000), TimeUnit.NANOSECONDS);
      }
    }
  }
}
