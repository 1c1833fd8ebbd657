package io.inferencejobs.bench;

import io.inferencejobs.bus.JobEvent;
import io.inferencejobs.jobs.ChunkLease;
import io.inferencejobs.jobs.ChunkRepository;
import io.inferencejobs.jobs.ImageRef;
import io.inferencejobs.jobs.JobRepository;
import io.inferencejobs.jobs.JobStatus;
import io.inferencejobs.jobs.NewJob;
import io.inferencejobs.jobs.ResultRow;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * {@code bench-cluster --simulate N}: the job machinery at scale without a model. One large job of N images runs
 * through the service's own repositories (lease, image list, result writes, chunk finish) against a real
 * PostgreSQL in its own process, by {@code --sim-workers} simulated workers, each taking a fixed {@code --sim-ms}
 * per image instead of decoding and inference. Prints images/s, PostgreSQL statements per image (counted from the
 * code each call runs), chunk dispatch latency, the events a subscriber of the job would get
 * per second, and checks that every image has exactly one result. {@code --sim-chunk 32,256} repeats it per chunk
 * size; {@code --sim-lease-pool 2} gives the leases connections of their own, as a worker node has.
 */
final class DispatchSimulation {

  /** Statements per call, as the repository code runs them (BEGIN and COMMIT included). */
  private static final int LEASE = 1;
  private static final int LIST = 1;
  // the result writes count their own statements (JobRepository.writeCounts): several workers' writes of one job
  // can share a transaction
  private static final int COMPLETE = 2; // the job's transition and its events, once

  private DispatchSimulation() {
  }

  /** {@code leasePool}: connections of a pool the leases have to themselves; 0 to share the writes' pool. */
  static void run(int images, int workers, int[] chunkSizes, int batch, double msPerImage, int leasePool)
      throws Exception {
    int pgPort = BenchDb.freePort();
    int s3Port = BenchDb.freePort();
    System.out.println("starting PostgreSQL + S3 (own process) and an API node to migrate the schema ...");
    List<String> out = new ArrayList<>();
    try (ServiceProcess deps = BenchDb.startDeps(pgPort, s3Port);
         ServiceProcess api = ServiceProcess.start("512m", with(BenchDb.nodeSettings(pgPort, s3Port),
             "ROLES", "api", "AUTH_ENABLED", "false"));
         BenchDb db = new BenchDb(pgPort, 16)) {
      for (int chunk : chunkSizes) {
        out.add(once(db, images, workers, chunk, batch, msPerImage, leasePool));
      }
    }
    System.out.println();
    System.out.println("== bench-cluster --simulate ==");
    out.forEach(System.out::println);
  }

  private static String once(BenchDb db, int images, int workers, int chunk, int batch, double msPerImage,
                             int leasePoolSize)
      throws Exception {
    Map<String, LongAdder> eventsPerSecond = new ConcurrentHashMap<>();
    long t0 = System.nanoTime();
    JobRepository repo = new JobRepository(db.pool, events -> {
      long second = (System.nanoTime() - t0) / 1_000_000_000L;
      for (JobEvent e : events) {
        eventsPerSecond.computeIfAbsent(e.type() + "@" + second, k -> new LongAdder()).increment();
      }
    });
    // leases on a pool of their own, as a worker node has, or on the pool the writes use
    io.vertx.sqlclient.Pool leasePool = leasePoolSize <= 0 ? db.pool : db.newPool(leasePoolSize);
    ChunkRepository chunks = new ChunkRepository(leasePool);
    List<ImageRef> refs = new ArrayList<>(images);
    for (int i = 0; i < images; i++) {
      refs.add(new ImageRef(i, "s3://inference-jobs/sim/" + i + ".jpg", i + ".jpg"));
    }
    long trainingJob = db.query("SELECT id FROM training_jobs ORDER BY id LIMIT 1", Tuple.tuple()).iterator().next()
        .getLong("id");
    long c0 = System.nanoTime();
    var job = Http.await(repo.create(new NewJob(trainingJob, "pretrained", "s3://inference-jobs/none.onnx", "batch",
        "detection", new JsonObject(), null, null, null, null, null, null), refs, chunk, 0));
    double createS = (System.nanoTime() - c0) / 1e9;
    Http.await(repo.transition(job.id(), JobStatus.RUNNING, null));
    refs = null;

    AtomicLong statements = new AtomicLong();
    List<Double> leaseMs = Collections.synchronizedList(new ArrayList<>());
    List<Double> writeMs = Collections.synchronizedList(new ArrayList<>());
    JsonArray prediction = new JsonArray().add(new JsonObject().put("class_id", 16).put("class_name", "dog")
        .put("confidence", 0.87).put("bbox", new JsonObject().put("x1", 130.5).put("y1", 220.25).put("x2", 312.0)
            .put("y2", 541.75)));
    long start = System.nanoTime();
    List<Future<Void>> loops = new ArrayList<>();
    for (int w = 0; w < workers; w++) {
      Promise<Void> done = Promise.promise();
      String id = "sim-" + w;
      long[] lastProgress = {0};
      db.vertx.runOnContext(v -> loop(db, chunks, repo, id, batch, msPerImage, prediction, statements, leaseMs,
          writeMs, lastProgress, done));
      loops.add(done.future());
    }
    Http.await(Future.all(loops));
    double seconds = (System.nanoTime() - start) / 1e9;

    Row check = db.query("SELECT count(*) AS n, count(DISTINCT image_index) AS d FROM image_results WHERE job_id = $1",
        Tuple.of(job.id())).iterator().next();
    Row state = db.query("SELECT status, processed_images FROM inference_jobs WHERE id = $1", Tuple.of(job.id()))
        .iterator().next();
    // events a subscriber of this job would get, per second: the busiest second and the mean
    Map<String, long[]> byType = new java.util.TreeMap<>();
    for (var e : eventsPerSecond.entrySet()) {
      String type = e.getKey().substring(0, e.getKey().indexOf('@'));
      long n = e.getValue().sum();
      long[] agg = byType.computeIfAbsent(type, k -> new long[2]);
      agg[0] = Math.max(agg[0], n);
      agg[1] += n;
    }
    long[] writeCounts = repo.writeCounts();
    long total = statements.get() + COMPLETE + writeCounts[1];
    StringBuilder events = new StringBuilder();
    for (var e : byType.entrySet()) {
      events.append(String.format(java.util.Locale.ROOT, "%s %,d/s at most (%.0f/s mean); ", e.getKey(),
          e.getValue()[0], e.getValue()[1] / seconds));
    }
    if (leasePool != db.pool) {
      Http.await(leasePool.close());
    }
    return String.format(java.util.Locale.ROOT, (leasePoolSize > 0 ? "leases on their own pool of " + leasePoolSize
        + ": " : "") + "%,d images, chunks of %d, batches of %d, %d simulated workers at "
            + "%.1f ms/image (bound %,.0f images/s): %,.0f images/s in %.1f s (job created in %.1f s); %.3f "
            + "PostgreSQL statements per image (%,d; %,d writes in %,d transactions); chunk lease p50 %.1f ms, p99 %.1f ms; result write p50 %.1f "
            + "ms, p99 %.1f ms; results %,d for %,d distinct images, job %s with %,d processed; events: %s",
        images, chunk, batch, workers, msPerImage, workers * 1000 / msPerImage,
        images / seconds, seconds, createS, (double) total / images, total, writeMs.size(), writeCounts[0],
        Stats.pct(leaseMs, 50),
        Stats.pct(leaseMs, 99), Stats.pct(writeMs, 50), Stats.pct(writeMs, 99), check.getLong("n"),
        check.getLong("d"), state.getString("status"), state.getInteger("processed_images"), events);
  }

  /** One simulated worker: lease, list, then per batch wait its images' time and write; until nothing is left. */
  private static void loop(BenchDb db, ChunkRepository chunks, JobRepository repo, String workerId, int batch,
                           double msPerImage, JsonArray prediction, AtomicLong statements, List<Double> leaseMs,
                           List<Double> writeMs, long[] lastProgress, Promise<Void> done) {
    long l0 = System.nanoTime();
    chunks.lease(workerId, 60).onComplete(ar -> {
      statements.addAndGet(LEASE);
      if (ar.failed()) {
        done.fail(ar.cause());
        return;
      }
      leaseMs.add((System.nanoTime() - l0) / 1e6);
      if (ar.result().isEmpty()) {
        done.complete();
        return;
      }
      ChunkLease lease = ar.result().get();
      chunks.pendingImages(lease).onComplete(listed -> {
        statements.addAndGet(LIST);
        if (listed.failed()) {
          done.fail(listed.cause());
          return;
        }
        batches(db, repo, lease, listed.result(), 0, workerId, batch, msPerImage, prediction, statements, writeMs,
            lastProgress).onComplete(b -> {
              if (b.failed()) {
                done.fail(b.cause());
              } else {
                loop(db, chunks, repo, workerId, batch, msPerImage, prediction, statements, leaseMs, writeMs,
                    lastProgress, done);
              }
            });
      });
    });
  }

  private static Future<Void> batches(BenchDb db, JobRepository repo, ChunkLease lease, List<ImageRef> images,
                                      int from, String workerId, int batch, double msPerImage, JsonArray prediction,
                                      AtomicLong statements, List<Double> writeMs, long[] lastProgress) {
    if (from >= images.size()) {
      return Future.succeededFuture();
    }
    int to = Math.min(images.size(), from + batch);
    Promise<Void> ran = Promise.promise();
    db.vertx.setTimer(Math.max(1, Math.round((to - from) * msPerImage)), t -> ran.complete());
    return ran.future().compose(v -> {
      List<ResultRow> rows = new ArrayList<>(to - from);
      for (ImageRef ref : images.subList(from, to)) {
        rows.add(new ResultRow(ref.index(), ref.name(), 768, 576, prediction, 0.0, 0.0, msPerImage, 0.0, null,
            null));
      }
      long now = System.nanoTime();
      boolean progress = now - lastProgress[0] >= 250_000_000L; // the worker's own limit: 4 a second per job
      if (progress) {
        lastProgress[0] = now;
      }
      boolean last = to == images.size();
      long w0 = System.nanoTime();
      Future<?> write = last ? repo.writeLastResults(lease, workerId, rows, progress, 1.0)
          : repo.writeResults(lease.jobId(), workerId, rows, progress);
      return write.compose(x -> {
        writeMs.add((System.nanoTime() - w0) / 1e6);
        return batches(db, repo, lease, images, to, workerId, batch, msPerImage, prediction, statements, writeMs,
            lastProgress);
      });
    });
  }

  private static Map<String, String> with(Map<String, String> base, Object... kv) {
    Map<String, String> m = new java.util.HashMap<>(base);
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i].toString(), kv[i + 1].toString());
    }
    return m;
  }
}
