package io.inferencejobs.worker;

import io.inferencejobs.bus.Addresses;
import io.inferencejobs.inference.BBox;
import io.inferencejobs.inference.Detection;
import io.inferencejobs.inference.Keypoint;
import io.inferencejobs.inference.DetectionParams;
import io.inferencejobs.inference.DeviceProbe;
import io.inferencejobs.inference.EngineOptions;
import io.inferencejobs.inference.ImageException;
import io.inferencejobs.inference.ImageResult;
import io.inferencejobs.inference.InferenceEngine;
import io.inferencejobs.inference.ModelException;
import io.inferencejobs.inference.PreparedImage;
import io.inferencejobs.jobs.ChunkLease;
import io.inferencejobs.jobs.ImageRef;
import io.inferencejobs.jobs.InferenceSettings;
import io.inferencejobs.jobs.Job;
import io.inferencejobs.jobs.JobRepository;
import io.inferencejobs.jobs.JobStatus;
import io.inferencejobs.jobs.ResultRow;
import io.inferencejobs.metrics.Metrics;
import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.storage.S3Uri;
import io.inferencejobs.support.BoundedExecutor;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
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
 * chunks than it has slots, and its heartbeat extends only the leases of chunks it is working on.
 *
 * <p>Faults: a fault the job cannot survive ({@link JobFailure}: the checkpoint is missing, too large or not a model)
 * fails the job once with its reason. Any other fault of a chunk (S3 or PostgreSQL unreachable, a full pool or disk)
 * hands the chunk back with a backoff that doubles with each attempt, for any worker to lease again; a chunk leased
 * more than {@code worker.max_attempts} times fails its job with the last cause. An image that is missing or cannot be
 * decoded fails on its own, with its own result.
 */
public final class WorkerVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerVerticle.class);
  private static final long PROGRESS_INTERVAL_MS = 250;
  /** Per-job progress timestamps older than this are of jobs that ended (here or elsewhere): dropped. */
  private static final long PROGRESS_STATE_TTL_MS = 10 * 60_000L;
  private static final long MAX_BACKOFF_MS = 60_000;

  private final WorkerContext ctx;
  private final String device;
  private final String workerId;
  private final int slots;
  private BoundedExecutor inference;
  private BoundedExecutor modelLoader;
  private ModelCache models;
  private Metrics.WorkerMeters meters;
  private MessageConsumer<Object> consumer;
  private MessageConsumer<JsonObject> inspections;
  private MessageConsumer<Long> checkpointChanges;
  private long heartbeatTimer;
  private long pollTimer;
  private int busy;
  private boolean pumping;
  private boolean pumpAgain;
  private boolean stopping;
  private String provider = "pending";
  private boolean degraded;
  private String note;
  private Promise<Void> drained;
  private final Map<Long, Long> lastProgress = new HashMap<>();
  /** The chunks in hand: the only leases the heartbeat extends. */
  private final List<ChunkLease> working = new ArrayList<>();

  public WorkerVerticle(WorkerContext ctx, String device) {
    this.ctx = ctx;
    this.device = device;
    this.workerId = ctx.nodeId() + "/" + device;
    this.slots = ctx.config().worker().slotsPerDevice();
  }

  public String workerId() {
    return workerId;
  }

  /** The device's provider, and whether the worker runs on another than it was asked for (with why). */
  public record State(String workerId, String device, String provider, boolean degraded, String note) {
  }

  public State state() {
    return new State(workerId, device, provider, degraded, note);
  }

  /**
   * Runs a tiny model on the device before anything else: a CUDA device that cannot run fails the start with what is
   * missing, unless the configuration allows the CPU instead, which marks the worker degraded. Returns the device the
   * worker's models will use.
   */
  private Future<String> probe() {
    boolean fallback = ctx.config().engine().cudaFallback();
    return modelLoader.submit(() -> {
      try {
        provider = DeviceProbe.probe(device);
        return device;
      } catch (DeviceProbe.Unavailable e) {
        if (!fallback || device.equals("cpu")) {
          throw new IllegalStateException("worker device " + device + " cannot run: " + e.getMessage()
              + (device.equals("cpu") ? "" : "; install what is missing, or set ENGINE_CUDA_FALLBACK=cpu to run "
              + "this worker on the CPU (marked degraded)"));
        }
        provider = DeviceProbe.probe("cpu");
        degraded = true;
        note = "asked for " + device + ", runs on the CPU: " + e.getMessage();
        LOG.warn("worker {} is degraded: {}", workerId, note);
        return "cpu";
      }
    });
  }

  @Override
  public Future<?> start() {
    // one thread per device for model loads: loading a model (seconds) never waits behind inference batches
    modelLoader = new BoundedExecutor(vertx, "model-load-" + device.replace(':', '-'), 1, 64);
    return probe().compose(this::startOn);
  }

  private Future<?> startOn(String engineDevice) {
    var ec = ctx.config().engine();
    EngineOptions options = new EngineOptions(engineDevice, ec.intraOpThreads(), 0, ec.batchSize(), ec.maxPixels(),
        ec.jpegDecoder());
    try {
      LOG.info("Worker {} decodes JPEG images with {}", device, InferenceEngine.jpegDecoderFor(options));
    } catch (ModelException e) { // turbojpeg required and missing: refuse to start rather than fail every image
      return Future.failedFuture(e);
    }
    // one thread per device: the device runs one session.run at a time; ORT parallelises inside it
    inference = new BoundedExecutor(vertx, "inference-" + device.replace(':', '-'), 1, 64);
    meters = ctx.metrics().worker(ctx.nodeId(), device);
    ctx.metrics().gauge("inference_worker_degraded", "1 when a worker runs on another provider than its device "
        + "asked for", () -> degraded ? 1 : 0, "node", ctx.nodeId(), "device", device);
    models = new ModelCache(ctx.storage(), modelLoader, options, ctx.config().dataDir().resolve("model-cache"),
        ctx.config().worker().modelCacheSize(), ctx.config().limits().maxCheckpointBytes(), meters);
    int lease = ctx.config().worker().leaseSeconds();
    consumer = vertx.eventBus().consumer(Addresses.JOBS_WORK, msg -> pump());
    CheckpointInspector inspector = new CheckpointInspector(ctx.storage(), modelLoader,
        ctx.config().dataDir().resolve("model-cache"), ctx.config().limits().maxCheckpointBytes());
    inspections = vertx.eventBus().consumer(Addresses.CHECKPOINTS_INSPECT, inspector::handle);
    // a checkpoint registered or replaced through any API node: ask S3 again before the next chunk uses it
    checkpointChanges = vertx.eventBus().consumer(Addresses.TRAINING_JOBS_CHANGED, m -> models.forgetHeads());
    heartbeatTimer = vertx.setPeriodic(Math.max(200, lease * 1000L / 3), id -> heartbeat());
    // PostgreSQL is the source of truth: look for expired leases and missed notifications now and then
    pollTimer = vertx.setPeriodic(Math.max(500, lease * 1000L / 2), id -> pump());
    return Future.all(consumer.completion(), inspections.completion(), checkpointChanges.completion())
        .compose(v -> announce()).onSuccess(v -> {
      LOG.info("worker {} ready on {} ({} slots)", workerId, provider, slots);
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
          return ctx.chunks().releaseLeases(workerId);
        })
        .compose(n -> {
          if (n > 0) {
            LOG.info("worker {} handed back {} chunks", workerId, n);
            vertx.eventBus().publish(Addresses.JOBS_WORK, 0L);
          }
          return ctx.workers().remove(workerId);
        })
        .compose(v -> consumer.unregister())
        .compose(v -> inspections.unregister())
        .compose(v -> checkpointChanges.unregister())
        .eventually(() -> {
          models.close();
          inference.close();
          modelLoader.close();
          return Future.succeededFuture();
        });
  }

  private Future<Void> announce() {
    return ctx.workers().announce(workerId, ctx.nodeId(), device, provider, slots, slots - busy, degraded, note);
  }

  private void heartbeat() {
    long now = System.currentTimeMillis();
    lastProgress.values().removeIf(at -> now - at > PROGRESS_STATE_TTL_MS);
    ctx.chunks().extend(workerId, List.copyOf(working), ctx.config().worker().leaseSeconds())
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
    ctx.chunks().lease(workerId, ctx.config().worker().leaseSeconds()).onComplete(ar -> {
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
      working.add(lease);
      process(lease).recover(err -> failed(lease, err)).onComplete(done -> {
        working.remove(lease);
        if (done.failed()) {
          // the chunk could not even be handed back (the database is down): its lease, no longer extended, expires
          logForJob(lease.jobId(), () -> LOG.warn("job {} chunk {}: could not hand it back ({}); its lease expires",
              lease.jobId(), lease.chunkIndex(), done.cause().toString()));
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
    // the chunk's images are listed, and the first batch's bytes fetched from S3, while the job is looked up and
    // marked running: for a small job the fetch is most of the time outside the model
    Future<List<ImageRef>> pending = ctx.chunks().pendingImages(lease);
    Map<Integer, Future<byte[]>> early = new HashMap<>();
    pending.onSuccess(list -> {
      for (ImageRef ref : list.subList(0, Math.min(list.size(), ctx.config().engine().batchSize()))) {
        S3Uri uri = S3Uri.parse(ref.s3Uri()).orElse(null);
        if (uri != null) {
          early.put(ref.index(), fetch(uri));
        }
      }
    });
    return ctx.jobs().get(lease.jobId()).compose(found -> {
      if (found.isEmpty() || found.get().status().terminal()) {
        return Future.succeededFuture();
      }
      Job job = found.get();
      int maxAttempts = ctx.config().worker().maxAttempts();
      if (lease.attempts() > maxAttempts) {
        return failJob(job, "chunk " + lease.chunkIndex() + " failed " + maxAttempts + " times; the last time: "
            + (lease.lastError() == null ? "its worker stopped (lease expired)" : lease.lastError()));
      }
      // Marked running while the images are fetched, decoded and run, not before: the first write of results
      // waits for it. For a one-image job that takes a transaction off the path from create to completed.
      Future<Job> running = job.status() == JobStatus.PENDING
          ? ctx.jobs().transition(job.id(), JobStatus.RUNNING, null).map(moved -> {
            moved.ifPresent(m -> {
              queued(m);
              logForJob(m.id(), () -> LOG.info("job {} running on {}", m.id(), workerId));
            });
            return moved.orElse(job);
          })
          : Future.succeededFuture(job);
      double maxFailedRatio = ctx.config().worker().maxFailedRatio();
      return pending.compose(images -> models.acquire(job.modelUri())
          .compose(held -> {
            recordClassNames(job.id(), held.engine.descriptor().classNames());
            return runBatches(lease, running, held.engine, params(job.inputData()),
                    batches(images, held.engine.batchSize()), 0, null, early)
                .eventually(() -> {
                  held.release();
                  return Future.succeededFuture();
                });
          })
          // the last batch's write finished the chunk; a chunk with nothing left to run is finished here
          .compose(last -> last != null ? Future.succeededFuture(last.finished())
              : running.compose(rj -> ctx.jobs().finishChunk(lease, workerId, maxFailedRatio)))
          .onSuccess(finished -> finished.ifPresent(f -> {
            lastProgress.remove(f.id());
            logForJob(f.id(), () -> LOG.info("job {} {}: {} images, {} failed", f.id(), f.status().db(),
                f.totalImages(), f.failedImages()));
          }))
          .<Void>mapEmpty()
          .recover(err -> err instanceof StopChunk ? Future.succeededFuture() : Future.failedFuture(err)));
    });
  }

  /**
   * A chunk failed. A fault the job cannot survive fails the job with its reason; any other hands the chunk back, to
   * be leased again after a backoff that doubles with each attempt (by any worker). Fails only if even that cannot be
   * written, and then the lease, no longer extended, expires.
   */
  private Future<Void> failed(ChunkLease lease, Throwable err) {
    String cause = JobFailure.describe(err);
    if (JobFailure.endsTheJob(err)) {
      return ctx.jobs().get(lease.jobId()).compose(job -> job.isEmpty() ? Future.succeededFuture()
          : failJob(job.get(), "checkpoint " + job.get().checkpointPath() + " cannot be used: " + cause));
    }
    long backoff = Math.min(MAX_BACKOFF_MS,
        ctx.config().worker().retryBackoffMs() * (1L << Math.min(16, Math.max(0, lease.attempts() - 1))));
    logForJob(lease.jobId(), () -> LOG.warn("job {} chunk {} failed on {} (attempt {} of {}), to be tried again in "
            + "{} ms: {}", lease.jobId(), lease.chunkIndex(), workerId, lease.attempts(),
        ctx.config().worker().maxAttempts(), backoff, cause));
    return ctx.chunks().retryLater(lease, workerId, backoff, cause).compose(handedBack -> {
      // wake a worker (any node) when the backoff is over; the poll timer would find it too, later
      vertx.setTimer(Math.max(1, backoff), id -> vertx.eventBus().publish(Addresses.JOBS_WORK, lease.jobId()));
      return Future.<Void>succeededFuture();
    });
  }

  /** Jobs whose model's class names this worker recorded already (exports name their categories from them). */
  private final Set<Long> namesRecorded = new HashSet<>();

  private void recordClassNames(long jobId, List<String> names) {
    if (names == null || names.isEmpty() || !namesRecorded.add(jobId)) {
      return;
    }
    if (namesRecorded.size() > 10_000) {
      namesRecorded.clear();
    }
    ctx.jobs().recordClassNames(jobId, names)
        .onFailure(err -> LOG.debug("class names of job {} not recorded: {}", jobId, err.toString()));
  }

  /** Fails a job that no retry can mend, once, with the reason. */
  private Future<Void> failJob(Job job, String reason) {
    return ctx.jobs().transition(job.id(), JobStatus.FAILED, reason).map(moved -> {
      moved.ifPresent(m -> {
        lastProgress.remove(m.id());
        logForJob(m.id(), () -> LOG.warn("job {} failed: {}", m.id(), reason));
      });
      return null;
    });
  }

  /**
   * Runs batch i; batch i+1 is fetched and decoded while batch i is in inference. Results are written once the job
   * is marked running; the last batch's write also finishes the chunk, in the same transaction. Gives that last
   * write, or null when there was no batch.
   */
  private Future<JobRepository.LastWrite> runBatches(ChunkLease lease, Future<Job> running, InferenceEngine engine,
                                                     DetectionParams params, List<List<ImageRef>> batches, int i,
                                                     Future<List<Prepared>> current,
                                                     Map<Integer, Future<byte[]>> early) {
    if (i >= batches.size()) {
      return Future.succeededFuture();
    }
    long jobId = lease.jobId();
    Future<List<Prepared>> mine = current != null ? current : prepare(engine, batches.get(i), early);
    return mine.compose(prepared -> {
      Future<List<Prepared>> next = i + 1 < batches.size() ? prepare(engine, batches.get(i + 1), early) : null;
      Future<List<ResultRow>> rows = infer(engine, prepared, params);
      if (next == null) {
        return rows.compose(r -> running.compose(rj -> ctx.jobs().writeLastResults(lease, workerId, r,
                progressDue(jobId), ctx.config().worker().maxFailedRatio())))
            .compose(last -> last.write().keepGoing() ? Future.succeededFuture(last)
                : Future.failedFuture(new StopChunk()));
      }
      return rows.compose(r -> running.compose(rj -> ctx.jobs().writeResults(jobId, workerId, r,
              progressDue(jobId))))
          .compose(outcome -> outcome.keepGoing()
              ? runBatches(lease, running, engine, params, batches, i + 1, next, early)
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

  /** An image on its way: prepared for the engine, or the reason it cannot be (with its kind). */
  private record Prepared(ImageRef ref, PreparedImage image, String error, String code) {
  }

  /**
   * An image S3 called missing fails for good only when asking again agrees: a server going down can answer "no such
   * key" on its way out. When the second answer is a fault, or the object is there after all, the chunk fails and is
   * tried again later.
   */
  private Future<Void> confirmMissing(S3Uri uri, Throwable err) {
    if (!S3Storage.missing(err)) {
      return Future.succeededFuture();
    }
    return ctx.storage().firstBytes(uri, 1).compose(head -> head.isEmpty() ? Future.succeededFuture()
        : Future.failedFuture(new java.io.IOException("s3 said " + uri + " was missing, then that it is there")));
  }

  /** The image's bytes from S3, refused past the image size limit. */
  private Future<byte[]> fetch(S3Uri uri) {
    return ctx.storage().getBytes(uri, ctx.config().limits().maxImageBytes(),
        "limits.max_image_bytes (MAX_IMAGE_BYTES)");
  }

  /** Fetches (or takes what was fetched {@code early}) and decodes a batch's images. */
  private Future<List<Prepared>> prepare(InferenceEngine engine, List<ImageRef> refs,
                                         Map<Integer, Future<byte[]>> early) {
    List<Future<Prepared>> all = new ArrayList<>();
    for (ImageRef ref : refs) {
      S3Uri uri = S3Uri.parse(ref.s3Uri()).orElse(null);
      if (uri == null) {
        all.add(Future.succeededFuture(new Prepared(ref, null, "not an s3 URI: " + ref.s3Uri(), "unreadable")));
        continue;
      }
      Future<byte[]> fetched = early.remove(ref.index());
      all.add((fetched != null ? fetched : fetch(uri))
          .compose(bytes -> ctx.decode().submit(() -> {
            try {
              return new Prepared(ref, engine.prepare(bytes), null, null);
            } catch (ImageException e) {
              return new Prepared(ref, null, e.getMessage(), e.code());
            }
          }))
          // an image that is missing, too large or refused fails on its own; S3 unreachable or a full pool fails
          // the chunk, which is tried again later
          .recover(err -> S3Storage.transientFault(err) ? Future.failedFuture(err)
              : confirmMissing(uri, err).map(v -> new Prepared(ref, null, describe(uri, err),
                  S3Storage.missing(err) ? "missing"
                      : err instanceof S3Storage.TooLarge ? ImageException.TOO_LARGE : "unreadable"))));
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
    if (S3Storage.missing(err)) {
      return "image " + uri + " does not exist";
    }
    if (err instanceof S3Storage.TooLarge) {
      return "image " + err.getMessage();
    }
    return "image " + uri + " could not be read: " + JobFailure.describe(err);
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
              p.error(), p.code()));
        } else {
          ImageResult r = list.get(k++);
          // a classifier's top-k classes are no objects: they are not predictions with a whole-image box
          boolean classify = "classify".equals(engine.descriptor().task());
          rows.add(new ResultRow(p.ref().index(), p.ref().name(), r.width(), r.height(),
              r.error() == null ? (classify ? new JsonArray() : predictions(r.detections())) : null, r.decodeMs(),
              r.preprocessMs(), r.inferenceMs(), r.postprocessMs(), r.error(), r.error() == null ? null : "inference",
              r.error() == null && classify ? classifications(r.detections()) : null));
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

  /** A classifier's top-k classes, best first. */
  static JsonArray classifications(List<Detection> detections) {
    JsonArray out = new JsonArray();
    for (Detection d : detections) {
      out.add(new JsonObject().put("class_id", d.classId()).put("class_name", d.className())
          .put("score", round(d.confidence(), 4)));
    }
    return out;
  }

  public static JsonArray predictions(List<Detection> detections) {
    JsonArray out = new JsonArray();
    for (Detection d : detections) {
      BBox b = d.bbox();
      JsonObject p = new JsonObject()
          .put("class_id", d.classId())
          .put("class_name", d.className())
          .put("confidence", round(d.confidence(), 4))
          .put("bbox", new JsonObject().put("x1", round(b.x1(), 2)).put("y1", round(b.y1(), 2))
              .put("x2", round(b.x2(), 2)).put("y2", round(b.y2(), 2)));
      if (d.mask() != null) {
        // COCO RLE, as pycocotools reads it: {"size": [height, width], "counts": "..."}
        p.put("mask", new JsonObject().put("size", new JsonArray().add(d.mask().height()).add(d.mask().width()))
            .put("counts", d.mask().counts())).put("area", d.mask().area());
      }
      if (d.keypoints() != null) {
        JsonArray kps = new JsonArray();
        for (Keypoint k : d.keypoints()) {
          kps.add(new JsonObject().put("name", k.name()).put("x", round(k.x(), 2)).put("y", round(k.y(), 2))
              .put("score", round(k.score(), 4)));
        }
        p.put("keypoints", kps);
      }
      if (d.obb() != null) {
        JsonArray corners = new JsonArray();
        for (int i = 0; i < 8; i += 2) {
          corners.add(new JsonArray().add(round(d.obb().corners()[i], 2)).add(round(d.obb().corners()[i + 1], 2)));
        }
        p.put("obb", new JsonObject().put("cx", round(d.obb().cx(), 2)).put("cy", round(d.obb().cy(), 2))
            .put("w", round(d.obb().w(), 2)).put("h", round(d.obb().h(), 2)).put("angle", round(d.obb().angle(), 4))
            .put("corners", corners));
      }
      out.add(p);
    }
    return out;
  }

  /** A job's stored settings as the engine takes them. */
  static DetectionParams params(JsonObject input) {
    InferenceSettings s = InferenceSettings.from(input);
    return new DetectionParams((float) s.confidenceThreshold(), (float) s.iouThreshold(), s.maxDetections(),
        s.classes() == null ? null : new HashSet<>(s.classes()), s.agnosticNms());
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
