package io.inferencejobs.webhooks;

import io.inferencejobs.bus.Addresses;
import io.inferencejobs.bus.JobEvent;
import io.inferencejobs.config.AppConfig;
import io.inferencejobs.exports.ExportFiles;
import io.inferencejobs.exports.ImageDrawer;
import io.inferencejobs.jobs.DeliveryRepository;
import io.inferencejobs.jobs.DeliveryRepository.Claimed;
import io.inferencejobs.jobs.JobRepository;
import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.support.BoundedExecutor;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Sends what the outbox holds: webhook deliveries (signed, Standard Webhooks) and export files (written to S3). Runs on
 * API nodes; wakes on every job event and every {@code delivery_poll_ms}, claims due deliveries with a lease, and
 * settles each: delivered on a 2xx (or written), tried again with exponential backoff and jitter on anything else, failed
 * after {@code webhook_max_attempts}. At least once: a node that dies mid-send leaves the delivery to be claimed again,
 * with the same id. Redirects are not followed; every try checks the URL's addresses again and connects to the address
 * it checked.
 */
public final class DeliveryVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(DeliveryVerticle.class);
  /** Long enough for the slowest export file; a delivery held longer by a dead node is claimed again after it. */
  private static final int LEASE_SECONDS = 300;
  private static final int MAX_ERROR_CHARS = 500;

  private final AppConfig.ResultsConfig config;
  private final DeliveryRepository deliveries;
  private final JobRepository jobs;
  private final S3Storage storage;
  private final BoundedExecutor io;
  private final Path tmpDir;
  private final ImageDrawer drawer;
  private final UrlGuard guard;
  private HttpClientAgent client;
  private MessageConsumer<JsonObject> wake;
  private long timer = -1;
  private boolean busy;
  private boolean again;
  private boolean stopped;

  public DeliveryVerticle(AppConfig config, DeliveryRepository deliveries, JobRepository jobs, S3Storage storage,
                          BoundedExecutor io) {
    this.config = config.results();
    this.deliveries = deliveries;
    this.jobs = jobs;
    this.storage = storage;
    this.io = io;
    this.tmpDir = config.dataDir().resolve("export-spool");
    this.drawer = ImageDrawer.of(storage, io, config.limits().maxImageBytes(), config.engine().maxPixels());
    this.guard = new UrlGuard(this.config.webhookAllowedHosts());
  }

  @Override
  public Future<?> start() {
    int timeoutMs = config.webhookTimeoutSeconds() * 1000;
    client = vertx.createHttpClient(new HttpClientOptions().setConnectTimeout(timeoutMs).setKeepAlive(false)
        .setForceSni(true).setMaxRedirects(0));
    timer = vertx.setPeriodic(config.deliveryPollMs(), id -> tick());
    wake = vertx.eventBus().localConsumer(Addresses.JOBS_EVENTS, msg -> {
      String type = msg.body().getString("type");
      if (JobEvent.terminal(type) || JobEvent.PROGRESS.equals(type)) {
        tick();
      }
    });
    return wake.completion();
  }

  @Override
  public Future<?> stop() {
    stopped = true;
    vertx.cancelTimer(timer);
    return Future.join(wake.unregister(), client.close());
  }

  /** Claims and settles due deliveries until none is left (one round at a time). */
  void tick() {
    if (stopped) {
      return;
    }
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    again = false;
    int batch = config.webhookConcurrency();
    deliveries.claim(batch, LEASE_SECONDS)
        .compose(claimed -> Future.join(claimed.stream().map(this::settle).toList()).map(all -> claimed.size()))
        .onComplete(ar -> {
          busy = false;
          if (ar.failed()) {
            LOG.warn("claiming deliveries failed (tried again on the next tick): {}", ar.cause().toString());
          } else if (ar.result() == batch || again) {
            tick();
          }
        });
  }

  private Future<Void> settle(Claimed d) {
    Future<Outcome> outcome = d.kind().equals("output") ? writeFiles(d) : send(d);
    return outcome.recover(err -> Future.succeededFuture(new Outcome(false, null, message(err), null, false)))
        .compose(o -> {
          if (o.done()) {
            return deliveries.delivered(d.id(), o.status(), o.result());
          }
          if (o.permanent() || d.attempts() >= config.webhookMaxAttempts()) {
            LOG.warn("delivery {} of job {} failed for good after {} attempts: {}", d.id(), d.jobId(), d.attempts(),
                o.error());
            return deliveries.failed(d.id(), o.status(), o.error());
          }
          return deliveries.retryLater(d.id(), backoffMs(d.attempts()), o.status(), o.error());
        })
        .recover(err -> {
          // the lease runs out and the delivery is claimed again
          LOG.warn("settling delivery {} failed: {}", d.id(), err.toString());
          return Future.succeededFuture();
        });
  }

  private record Outcome(boolean done, Integer status, String error, JsonObject result, boolean permanent) {
  }

  /** Exponential from webhook_retry_base_ms, capped at webhook_retry_max_ms, with up to 20% jitter. */
  long backoffMs(int attempts) {
    double exp = config.webhookRetryBaseMs() * Math.pow(2, Math.max(0, attempts - 1));
    long capped = (long) Math.min(config.webhookRetryMaxMs(), exp);
    return capped + (long) (capped * 0.2 * ThreadLocalRandom.current().nextDouble());
  }

  private Future<Outcome> send(Claimed d) {
    JsonObject hook = d.webhook();
    if (hook == null) {
      return Future.succeededFuture(new Outcome(false, null, "the job has no webhook", null, true));
    }
    JsonObject payload = d.payload().copy();
    if (d.outputs() != null && payload.getValue("data") instanceof JsonObject data) {
      data.put("outputs", d.outputs().getJsonArray("files"));
    }
    String body = payload.encode();
    return io.submit(() -> {
      try {
        return guard.check(hook.getString("url"));
      } catch (UrlGuard.Refused refused) {
        throw new RefusedTarget(refused.getMessage(), refused.unresolved());
      }
    }).compose(target -> {
      long ts = System.currentTimeMillis() / 1000;
      long timeoutMs = config.webhookTimeoutSeconds() * 1000L;
      RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST)
          .setServer(SocketAddress.inetSocketAddress(target.port(), target.address().getHostAddress()))
          .setHost(target.host()).setPort(target.port()).setSsl(target.tls()).setURI(target.requestUri())
          .setFollowRedirects(false).setConnectTimeout(timeoutMs).setIdleTimeout(timeoutMs)
          .putHeader("content-type", "application/json")
          .putHeader("user-agent", "inference-jobs-webhooks/1")
          .putHeader("webhook-id", d.id())
          .putHeader("webhook-timestamp", Long.toString(ts))
          .putHeader("webhook-signature", Webhooks.signature(Webhooks.key(hook.getString("secret")), d.id(), ts, body));
      Promise<Integer> status = Promise.promise();
      client.request(options)
          .compose(req -> req.send(body))
          .onSuccess(resp -> {
            // the receiver's answer is not kept: its status is all that counts
            resp.handler(ignored -> { });
            resp.exceptionHandler(err -> status.tryComplete(resp.statusCode()));
            resp.endHandler(v -> status.tryComplete(resp.statusCode()));
          })
          .onFailure(status::tryFail);
      vertx.setTimer(timeoutMs, id -> status.tryFail("no answer within " + config.webhookTimeoutSeconds() + " s"));
      return status.future().map(code -> code >= 200 && code < 300 ? new Outcome(true, code, null, null, false)
          : new Outcome(false, code, "the receiver answered " + code, null, false));
    }).recover(err -> Future.succeededFuture(err instanceof RefusedTarget refused
        ? new Outcome(false, null, "webhook.url " + err.getMessage(), null, !refused.unresolved)
        : new Outcome(false, null, message(err), null, false)));
  }

  private Future<Outcome> writeFiles(Claimed d) {
    return jobs.classNames(d.jobId())
        .compose(names -> ExportFiles.write(vertx, storage, tmpDir, d.jobId(), names.orElse(null), d.payload(),
            (after, limit) -> jobs.exportPage(d.jobId(), after, limit), drawer))
        .map(result -> {
          LOG.info("wrote the export files of job {}: {}", d.jobId(), result.getJsonArray("files").encode());
          return new Outcome(true, null, null, result, false);
        });
  }

  private static String message(Throwable err) {
    String m = err.getMessage() == null ? err.getClass().getSimpleName() : err.getMessage();
    return m.length() > MAX_ERROR_CHARS ? m.substring(0, MAX_ERROR_CHARS) : m;
  }

  /** The URL now resolves somewhere it may not go (tried no more), or does not resolve (tried again). */
  private static final class RefusedTarget extends RuntimeException {
    private final boolean unresolved;

    RefusedTarget(String message, boolean unresolved) {
      super(message, null, false, false);
      this.unresolved = unresolved;
    }
  }
}
