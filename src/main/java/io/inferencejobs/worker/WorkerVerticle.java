package io.inferencejobs.worker;

import io.inferencejobs.bus.Addresses;
import io.inferencejobs.inference.BBox;
import io.inferencejobs.inference.Detection;
import io.inferencejobs.inference.DetectionParams;
import io.inferencejobs.inference.EngineOptions;
import io.inferencejobs.inference.ImageException;
import io.inferencejobs.inference.ImageResult;
import io.inferencejobs.inference.InferenceEngine;
import io.inferencejobs.inference.PreparedImage;
import io.inferencejobs.jobs.ChunkLease;
import io.inferencejobs.jobs.ImageRef;
import io.inferencejobs.jobs.Job;
import io.inferencejobs.jobs.JobStatus;
import io.inferencejobs.jobs.ResultRow;
import io.inferencejobs.metrics.Metrics;
import io.inferencejobs.storage.S3Uri;
import io.inferencejobs.support.BoundedExecutor;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One inference worker pinned to one device. It leases chunks of jobs from PostgreSQL (the source of truth; the bus
 * only wakes it up), runs them in batches through the engine on its own single-thread pool, and writes results
 * idempotently. Fetching and decoding of the next batch overlap inference of the current one. It never takes more
 * chunks than it has slots.
 */
public final class WorkerVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerVerticle.class);
  /** A chunk leased this many times without finishing fails its remaining images instead of looping forever. */
  static final int MAX_ATTEMPTS = 3;
  private static final long PROGRESS_INTERVAL_MS = 250;

  private final WorkerContext ctx;
  private final String device;
  private final String workerId;
  private final int slots;
  private BoundedExecutor inference;
  private ModelCache models;
  private Metrics.WorkerMeters meters;
  private MessageConsumer<Object> consumer;
  private long heartbeatTimer;
  private long pollTimer;
  private int busy;
  private boolean pumping;
  private boolean pumpAgain;
  private boolean stopping;
  private String provider = "pending";
  private Promise<Void> drained;
  private final Map<Long, Long> lastProgress = new HashMap<>();

  public WorkerVerticle(WorkerContext ctx, String device) {
    this.ctx = ctx;
    this.device = device;
    this.workerId = ctx.nodeId() + "/" + device;
    this.slots = ctx.config().worker().slotsPerDevice();
  }

  public String workerId() {
    return workerId;
  }

  @Override
  public Future<?> start() {
    var ec = ctx.config().engine();
    EngineOptions options = new EngineOptions(device, ec.intraOpThreads(), 0, ec.batchSize(), ec.maxPixels());
    // one thread per device: the device runs one session.run at a time; ORT parallelises inside it
    inference = new BoundedExecutor(vertx, "inference-" + device.replace(':', '-'), 1, 64);
    meters = ctx.metrics().worker(ctx.nodeId(), device);
    models = new ModelCache(ctx.storage(), inference, options, ctx.config().dataDir().resolve("model-cache"),
        ctx.config().worker().modelCacheSize(), meters);
    int lease = ctx.config().worker().leaseSeconds();
    consumer = vertx.eventBus().consumer(Addresses.JOBS_WORK, msg -> pump());
    heartbeatTimer = vertx.setPeriodic(Math.max(200, lease * 1000L / 3), id -> heartbeat());
    // PostgreSQL is the source of truth: look for expired leases and missed notifications now and then
    pollTimer = vertx.setPeriodic(Math.max(500, lease * 1000L / 2), id -> pump());
    return consumer.completion().compose(v -> announce()).onSuccess(v -> {
      LOG.info("worker {} ready ({} slots)", workerId, slots);
      pump();
    });
  }

  @Override
  public Future<?> stop() {
    stopping = true;
    vertx.cancelTimer(pollTimer);
    drained = Promise.promise();
    if (busy == 0) {
      drained.tryComplete();
    }
    // finish the chunks in hand (bounded), then hand back whatever is left
    long guard = vertx.setTimer(ctx.config().worker().leaseSeconds() * 1000L, id -> drained.tryComplete());
    return drained.future()
        .compose(v -> {
          vertx.cancelTimer(guard);
          vertx.cancelTimer(heartbeatTimer);
          return ctx.jobs().releaseLeases(workerId);
        })
        .compose(n -> {
          if (n > 0) {
            LOG.info("worker {} handed back {} chunks", workerId, n);
            vertx.eventBus().publish(Addresses.JOBS_WORK, 0L);
          }
          return ctx.pool().preparedQuery("DELETE FROM workers WHERE worker_id = $1").execute(Tuple.of(workerId));
        })
        .compose(v -> consumer.unregister())
        .eventually(() -> {
          models.close();
          inference.close();
          return Future.succeededFuture();
        });
  }

  private Future<Void> announce() {
    return ctx.pool().preparedQuery("""
            INSERT INTO workers (worker_id, node_id, device, provider, slots, free_slots, last_seen)
            VALUES ($1, $2, $3, $4, $5, $6, now())
            ON CONFLICT (worker_id) DO UPDATE SET provider = $4, slots = $5, free_slots = $6, last_seen = now()""")
        .execute(Tuple.of(workerId, ctx.nodeId(), device, provider, slots, slots - busy)).mapEmpty();
  }

  private void heartbeat() {
    ctx.jobs().heartbeat(workerId, ctx.config().worker().leaseSeconds())
        .compose(n -> announce())
        .onFailure(err -> LOG.warn("worker {} heartbeat failed: {}", workerId, err.toString()));
  }

  // ------------------------------------------------------------------ leasing

  private void pump() {
    if (stopping) {
      return;
    }
    if (pumping) {
      pumpAgain = true;
      return;
    }
    pumping = true;
    pumpAgain = false;
    leaseNext();
  }

  private void leaseNext() {
    if (stopping || busy >= slots) {
      pumping = false;
      return;
    }
    busy++;
    ctx.jobs().leaseChunk(workerId, ctx.config().worker().leaseSeconds()).onComplete(ar -> {
      if (ar.failed() || ar.result().isEmpty()) {
        busy--;
        pumping = false;
        if (ar.failed()) {
          LOG.warn("worker {} could not lease: {}", workerId, ar.cause().toString());
        } else if (pumpAgain) {
          pump();
        }
        return;
      }
      ChunkLease lease = ar.result().get();
      meters.chunksLeased.increment();
      process(lease).onComplete(done -> {
        if (done.failed()) {
          logForJob(lease.jobId(), () -> LOG.warn("job {} chunk {} failed on {} (attempt {}); it will be leased "
              + "again: {}", lease.jobId(), lease.chunkIndex(), workerId, lease.attempts(), done.cause().toString()));
        }
        busy--;
        if (stopping && busy == 0 && drained != null) {
          drained.tryComplete();
        }
        pump();
      });
      leaseNext();
    });
  }

  /** Logs with the job id in the MDC (logback prints it; the JSON format carries it as a field). */
  private static void logForJob(long jobId, Runnable log) {
    try (MDC.MDCCloseable ignored = MDC.putCloseable("job", Long.toString(jobId))) {
      log.run();
    }
  }

  // ------------------------------------------------------------------ one chunk

  private Future<Void> process(ChunkLease lease) {
    logForJob(lease.jobId(), () -> LOG.debug("job {} chunk {} [{}, {}) leased by {}", lease.jobId(),
        lease.chunkIndex(), lease.firstIndex(), lease.endIndex(), workerId));
    return ctx.jobs().get(lease.jobId()).compose(found -> {
      if (found.isEmpty() || found.get().status().terminal()) {
        return Future.succeededFuture();
      }
      Job job = found.get();
      Future<Job> running = job.status() == JobStatus.PENDING
          ? ctx.jobs().transition(job.id(), JobStatus.RUNNING, null).map(moved -> {
            moved.ifPresent(m -> {
              queued(m);
              logForJob(m.id(), () -> LOG.info("job {} running on {}", m.id(), workerId));
            });
            return moved.orElse(job);
          })
          : Future.succeededFuture(job);
      return running.compose(j -> ctx.jobs().pendingImages(lease).compose(images -> {
        if (lease.attempts() > MAX_ATTEMPTS) {
          return giveUp(lease, images);
        }
        return models.get(j.modelUri())
            .recover(err -> ctx.jobs().transition(j.id(), JobStatus.FAILED,
                    "checkpoint " + j.checkpointPath() + " cannot be loaded: " + err.getMessage())
                .compose(x -> Future.failedFuture(new StopChunk())))
            .compose(engine -> {
              provider = engine.provider();
              return runBatches(j, engine, params(j.inputData()), batches(images, engine.batchSize()), 0, null);
            })
            .compose(v -> ctx.jobs().finishChunk(lease, workerId, ctx.config().worker().maxFailedRatio()))
            .onSuccess(finished -> finished.ifPresent(f -> {
              lastProgress.remove(f.id());
              logForJob(f.id(), () -> LOG.info("job {} {}: {} images, {} failed", f.id(), f.status().db(),
                  f.totalImages(), f.failedImages()));
            }))
            .<Void>mapEmpty()
            .recover(err -> err instanceof StopChunk ? Future.succeededFuture() : Future.failedFuture(err));
      }));
    });
  }

  /** Runs batch i; batch i+1 is fetched and decoded while batch i is in inference. */
  private Future<Void> runBatches(Job job, InferenceEngine engine, DetectionParams params,
                                  List<List<ImageRef>> batches, int i, Future<List<Prepared>> current) {
    if (i >= batches.size()) {
      return Future.succeededFuture();
    }
    Future<List<Prepared>> mine = current != null ? current : prepare(engine, batches.get(i));
    return mine.compose(prepared -> {
      Future<List<Prepared>> next = i + 1 < batches.size() ? prepare(engine, batches.get(i + 1)) : null;
      return infer(engine, prepared, params)
          .compose(rows -> ctx.jobs().writeResults(job.id(), workerId, rows, progressDue(job.id())))
          .compose(outcome -> outcome.keepGoing()
              ? runBatches(job, engine, params, batches, i + 1, next)
              : Future.failedFuture(new StopChunk()));
    });
  }

  /** Time in queue: from the job's creation to the moment a worker started it. */
  private void queued(Job job) {
    if (job.createdAt() != null) {
      long ms = java.time.Duration.between(job.createdAt(), java.time.OffsetDateTime.now()).toMillis();
      meters.timeInQueue.record(java.time.Duration.ofMillis(Math.max(0, ms)));
    }
  }

  private boolean progressDue(long jobId) {
    long now = System.currentTimeMillis();
    Long last = lastProgress.get(jobId);
    if (last == null || now - last >= PROGRESS_INTERVAL_MS) {
      lastProgress.put(jobId, now);
      return true;
    }
    return false;
  }

  /** An image on its way: prepared for the engine, or the reason it cannot be. */
  private record Prepared(ImageRef ref, PreparedImage image, String error) {
  }

  private Future<List<Prepared>> prepare(InferenceEngine engine, List<ImageRef> refs) {
    List<Future<Prepared>> all = new ArrayList<>();
    for (ImageRef ref : refs) {
      S3Uri uri = S3Uri.parse(ref.s3Uri()).orElse(null);
      if (uri == null) {
        all.add(Future.succeededFuture(new Prepared(ref, null, "not an s3 URI: " + ref.s3Uri())));
        continue;
      }
      all.add(ctx.storage().getBytes(uri)
          .compose(bytes -> ctx.decode().submit(() -> {
            try {
              return new Prepared(ref, engine.prepare(bytes), null);
            } catch (ImageException e) {
              return new Prepared(ref, null, e.getMessage());
            }
          }))
          .recover(err -> err instanceof BoundedExecutor.Overloaded ? Future.failedFuture(err)
              : Future.succeededFuture(new Prepared(ref, null, describe(uri, err)))));
    }
    return Future.all(all).map(cf -> {
      List<Prepared> out = new ArrayList<>();
      for (int k = 0; k < all.size(); k++) {
        out.add(cf.resultAt(k));
      }
      return out;
    });
  }

  private static String describe(S3Uri uri, Throwable err) {
    String msg = err.getMessage() == null ? err.getClass().getSimpleName() : err.getMessage();
    if (err instanceof software.amazon.awssdk.services.s3.model.NoSuchKeyException
        || msg.contains("NoSuchKey") || msg.contains("404")) {
      return "image " + uri + " does not exist";
    }
    return "image " + uri + " could not be read: " + msg;
  }

  private Future<List<ResultRow>> infer(InferenceEngine engine, List<Prepared> prepared, DetectionParams params) {
    List<PreparedImage> ok = new ArrayList<>();
    for (Prepared p : prepared) {
      if (p.image() != null) {
        ok.add(p.image());
      }
    }
    if (!ok.isEmpty()) {
      meters.batchSize.record(ok.size());
    }
    Future<List<ImageResult>> results = ok.isEmpty() ? Future.succeededFuture(List.of())
        : inference.submit(() -> engine.infer(ok, params));
    return results.map(list -> {
      List<ResultRow> rows = new ArrayList<>();
      int k = 0;
      for (Prepared p : prepared) {
        if (p.image() == null) {
          rows.add(new ResultRow(p.ref().index(), p.ref().name(), null, null, null, null, null, null, null,
              p.error()));
        } else {
          ImageResult r = list.get(k++);
          rows.add(new ResultRow(p.ref().index(), p.ref().name(), r.width(), r.height(),
              r.error() == null ? predictions(r.detections()) : null, r.decodeMs(), r.preprocessMs(),
              r.inferenceMs(), r.postprocessMs(), r.error()));
          if (r.error() == null) {
            meters.stages(r.decodeMs(), r.preprocessMs(), r.inferenceMs(), r.postprocessMs());
          }
        }
      }
      meters.imagesProcessed.increment(rows.size());
      meters.imagesFailed.increment(rows.stream().filter(row -> row.error() != null).count());
      return rows;
    });
  }

  /** The chunk keeps failing: record every remaining image as failed, so the job still ends. */
  private Future<Void> giveUp(ChunkLease lease, List<ImageRef> images) {
    String reason = "gave up after " + MAX_ATTEMPTS + " attempts to process this image's chunk";
    List<ResultRow> rows = images.stream().map(ref -> new ResultRow(ref.index(), ref.name(), null, null, null, null,
        null, null, null, reason)).toList();
    return ctx.jobs().writeResults(lease.jobId(), workerId, rows, true)
        .compose(o -> o.keepGoing() ? ctx.jobs().finishChunk(lease, workerId,
            ctx.config().worker().maxFailedRatio()).mapEmpty() : Future.succeededFuture());
  }

  static JsonArray predictions(List<Detection> detections) {
    JsonArray out = new JsonArray();
    for (Detection d : detections) {
      BBox b = d.bbox();
      out.add(new JsonObject()
          .put("class_id", d.classId())
          .put("class_name", d.className())
          .put("confidence", round(d.confidence(), 4))
          .put("bbox", new JsonObject().put("x1", round(b.x1(), 2)).put("y1", round(b.y1(), 2))
              .put("x2", round(b.x2(), 2)).put("y2", round(b.y2(), 2))));
    }
    return out;
  }

  static DetectionParams params(JsonObject input) {
    Set<Integer> classes = null;
    JsonArray c = input.getJsonArray("classes");
    if (c != null) {
      classes = new HashSet<>();
      for (Object o : c) {
        classes.add(((Number) o).intValue());
      }
    }
    return new DetectionParams(input.getNumber("confidence_threshold").floatValue(),
        input.getNumber("iou_threshold").floatValue(), input.getInteger("max_detections"), classes,
        input.getBoolean("agnostic_nms", false));
  }

  private static List<List<ImageRef>> batches(List<ImageRef> images, int size) {
    List<List<ImageRef>> out = new ArrayList<>();
    for (int i = 0; i < images.size(); i += size) {
      out.add(images.subList(i, Math.min(images.size(), i + size)));
    }
    return out;
  }

  private static double round(double v, int digits) {
    double f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }

  /** The chunk stops without error: the job was cancelled or failed meanwhile. */
  private static final class StopChunk extends RuntimeException {
    StopChunk() {
      super(null, null, false, false);
    }
  }
}
