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
 * PostgreSQL in its own process, by {@code --sim-workers} simulated workers spread over {@code --sim-processes}
 * JVMs (this one and children), each taking a fixed {@code --sim-ms} per image instead of decoding and inference.
 * Prints images/s, PostgreSQL statements per image (counted from the code each call runs), chunk dispatch latency,
 * the events a subscriber of the job would get per second, and checks that every image has exactly one result.
 * {@code --sim-chunk 32,256} repeats it per chunk size; {@code --sim-lease-pool 2} gives the leases connections of
 * their own, as a worker node has.
 */
final class DispatchSimulation {

  /** Statements per call, as the repository code runs them (BEGIN and COMMIT included). */
  private static final int LEASE = 1;
  private static final int LIST = 1;
  // the result writes count their own statements (JobRepository.writeCounts): several workers' writes of one job
  // on one node can share a transaction
  private static final int COMPLETE = 2; // the job's transition and its events, once

  private DispatchSimulation() {
  }

  /** How the simulated workers run: per-image time, batch, and the lease pool (0: the writes' pool). */
  record Setup(int batch, double msPerImage, int leasePool) {
  }

  /** What the simulated workers of one process measured. */
  static final class Measured {
    final List<Double> leaseMs = Collections.synchronizedList(new ArrayList<>());
    /** When each lease was asked for (epoch ms), beside {@link #leaseMs}. */
    final List<Long> leaseAt = Collections.synchronizedList(new ArrayList<>());
    final List<Double> writeMs = Collections.synchronizedList(new ArrayList<>());
    final List<Long> writeAt = Collections.synchronizedList(new ArrayList<>());
    final AtomicLong statements = new AtomicLong();
    long writeTransactions;
    /** {@code type@epoch second} to the events of that type recorded in that second. */
    final Map<String, LongAdder> eventsPerSecond = new ConcurrentHashMap<>();

    JsonObject toJson() {
      JsonObject events = new JsonObject();
      eventsPerSecond.forEach((k, v) -> events.put(k, v.sum()));
      return new JsonObject().put("lease", new JsonArray(new ArrayList<>(leaseMs)))
          .put("leaseAt", new JsonArray(new ArrayList<>(leaseAt)))
          .put("write", new JsonArray(new ArrayList<>(writeMs))).put("writeAt", new JsonArray(new ArrayList<>(writeAt)))
          .put("statements", statements.get())
          .put("transactions", writeTransactions).put("events", events);
    }

    void add(JsonObject other) {
      other.getJsonArray("lease").forEach(x -> leaseMs.add(((Number) x).doubleValue()));
      other.getJsonArray("write").forEach(x -> writeMs.add(((Number) x).doubleValue()));
      other.getJsonArray("leaseAt").forEach(x -> leaseAt.add(((Number) x).longValue()));
      other.getJsonArray("writeAt").forEach(x -> writeAt.add(((Number) x).longValue()));
      statements.addAndGet(other.getLong("statements"));
      writeTransactions += other.getLong("transactions");
      other.getJsonObject("events").forEach(e -> eventsPerSecond.computeIfAbsent(e.getKey(), k -> new LongAdder())
          .add(((Number) e.getValue()).longValue()));
    }
  }

  static void run(int images, int workers, int processes, int[] chunkSizes, Setup setup) throws Exception {
    int pgPort = BenchDb.freePort();
    int s3Port = BenchDb.freePort();
    System.out.println("starting PostgreSQL + S3 (own process) and an API node to migrate the schema ...");
    List<String> out = new ArrayList<>();
    try (ServiceProcess deps = BenchDb.startDeps(pgPort, s3Port);
         ServiceProcess api = ServiceProcess.start("512m", with(BenchDb.nodeSettings(pgPort, s3Port),
             "ROLES", "api", "AUTH_ENABLED", "false"));
         BenchDb db = new BenchDb(pgPort, 16)) {
      for (int chunk : chunkSizes) {
        out.add(once(db, pgPort, images, workers, processes, chunk, setup));
      }
    }
    System.out.println();
    System.out.println("== bench-cluster --simulate ==");
    out.forEach(System.out::println);
  }

  private static String once(BenchDb db, int pgPort, int images, int workers, int processes, int chunk, Setup setup)
      throws Exception {
    List<ImageRef> refs = new ArrayList<>(images);
    for (int i = 0; i < images; i++) {
      refs.add(new ImageRef(i, "s3://inference-jobs/sim/" + i + ".jpg", i + ".jpg"));
    }
    long trainingJob = db.query("SELECT id FROM training_jobs ORDER BY id LIMIT 1", Tuple.tuple()).iterator().next()
        .getLong("id");
    JobRepository creator = new JobRepository(db.pool, events -> { });
    long c0 = System.nanoTime();
    var job = Http.await(creator.create(new NewJob(trainingJob, "pretrained", "s3://inference-jobs/none.onnx",
        "batch", "detection", new JsonObject(), null, null, null, null, null, null), refs, chunk, 0));
    double createS = (System.nanoTime() - c0) / 1e9;
    Http.await(creator.transition(job.id(), JobStatus.RUNNING, null));
    refs = null;

    // the other processes start, connect and wait; then all begin at once
    List<Child> children = new ArrayList<>();
    int perProcess = workers / processes;
    for (int p = 1; p < processes; p++) {
      children.add(Child.start(pgPort, job.id(), "p" + p, perProcess, setup));
    }
    for (Child c : children) {
      c.awaitReady();
    }
    long start = System.nanoTime();
    long startMs = System.currentTimeMillis();
    children.forEach(Child::go);
    Measured total = new Measured();
    JsonObject mine = Http.await(runWorkers(db, "p0", workers - perProcess * (processes - 1), setup));
    total.add(mine);
    for (Child c : children) {
      total.add(c.awaitResult());
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    // the second half of the run by the clock: the JVMs' compilers are done, and so is the job's start
    long half = startMs + Math.round(seconds * 500);
    List<Double> leaseLate = later(total.leaseMs, total.leaseAt, half);
    List<Double> writeLate = later(total.writeMs, total.writeAt, half);

    Row check = db.query("SELECT count(*) AS n, count(DISTINCT image_index) AS d FROM image_results WHERE job_id = $1",
        Tuple.of(job.id())).iterator().next();
    Row state = db.query("SELECT status, processed_images FROM inference_jobs WHERE id = $1", Tuple.of(job.id()))
        .iterator().next();
    // events a subscriber of this job would get, per second: the busiest second and the mean
    Map<String, long[]> byType = new java.util.TreeMap<>();
    for (var e : total.eventsPerSecond.entrySet()) {
      String type = e.getKey().substring(0, e.getKey().indexOf('@'));
      long n = e.getValue().sum();
      long[] agg = byType.computeIfAbsent(type, k -> new long[2]);
      agg[0] = Math.max(agg[0], n);
      agg[1] += n;
    }
    StringBuilder events = new StringBuilder();
    for (var e : byType.entrySet()) {
      events.append(String.format(java.util.Locale.ROOT, "%s %,d/s at most (%.0f/s mean); ", e.getKey(),
          e.getValue()[0], e.getValue()[1] / seconds));
    }
    long statements = total.statements.get() + COMPLETE;
    return String.format(java.util.Locale.ROOT, (setup.leasePool() > 0 ? "leases on their own pool of "
            + setup.leasePool() + ": " : "") + "%,d images, chunks of %d, batches of %d, %d simulated workers in %d "
            + "process(es) at %.1f ms/image (bound %,.0f images/s): %,.0f images/s in %.1f s (job created in %.1f s); "
            + "%.3f PostgreSQL statements per image (%,d; %,d writes in %,d transactions); chunk lease p50 %.1f ms, "
            + "p99 %.1f ms (second half of the run: p50 %.1f ms, p99 %.1f ms); result write p50 %.1f ms, p99 %.1f ms "
            + "(second half: p50 %.1f ms, p99 %.1f ms); results %,d for %,d distinct images, job %s with "
            + "%,d processed; events: %s",
        images, chunk, setup.batch(), workers, processes, setup.msPerImage(), workers * 1000 / setup.msPerImage(),
        images / seconds, seconds, createS, (double) statements / images, statements, total.writeMs.size(),
        total.writeTransactions, Stats.pct(total.leaseMs, 50), Stats.pct(total.leaseMs, 99),
        Stats.pct(leaseLate, 50), Stats.pct(leaseLate, 99), Stats.pct(total.writeMs, 50), Stats.pct(total.writeMs, 99),
        Stats.pct(writeLate, 50), Stats.pct(writeLate, 99), check.getLong("n"), check.getLong("d"),
        state.getString("status"), state.getInteger("processed_images"), events);
  }

  /** The samples taken at or after {@code fromMs}. */
  private static List<Double> later(List<Double> samples, List<Long> at, long fromMs) {
    List<Double> out = new ArrayList<>();
    for (int i = 0; i < samples.size(); i++) {
      if (at.get(i) >= fromMs) {
        out.add(samples.get(i));
      }
    }
    return out;
  }

  /** {@code bench-cluster --sim-worker PGPORT ...}: a child process's simulated workers (see {@link Child}). */
  static int worker(Map<String, String> o) throws Exception {
    Setup setup = new Setup(Integer.parseInt(o.get("sim-batch")), Double.parseDouble(o.get("sim-ms")),
        Integer.parseInt(o.get("sim-lease-pool")));
    try (BenchDb db = new BenchDb(Integer.parseInt(o.get("sim-worker")), 16)) {
      Http.await(db.pool.query("SELECT 1").execute()); // connected before it says ready
      System.out.println("ready");
      System.out.flush();
      if (new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine() == null) {
        return 1;
      }
      JsonObject measured = Http.await(runWorkers(db, o.get("sim-name"), Integer.parseInt(o.get("sim-workers")),
          setup));
      System.out.println("result " + measured.encode());
      System.out.flush();
      return 0;
    }
  }

  /** Another process of simulated workers, started with this one's class path, begun on {@link #go}. */
  private record Child(Process process, java.io.BufferedReader out) {
    static Child start(int pgPort, long jobId, String name, int workers, Setup setup) throws Exception {
      List<String> cmd = List.of(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Xmx512m", "-cp", System.getProperty("java.class.path"), BenchMain.class.getName(), "bench-cluster",
          "--sim-worker", Integer.toString(pgPort), "--sim-name", name, "--sim-workers", Integer.toString(workers),
          "--sim-batch", Integer.toString(setup.batch()), "--sim-ms", Double.toString(setup.msPerImage()),
          "--sim-lease-pool", Integer.toString(setup.leasePool()));
      Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
      return new Child(p, new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream())));
    }

    void awaitReady() throws Exception {
      if (line("ready") == null) {
        throw new IllegalStateException("a simulation process did not start");
      }
    }

    void go() {
      try {
        process.getOutputStream().write("go\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        process.getOutputStream().flush();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }

    JsonObject awaitResult() throws Exception {
      String result = line("result ");
      process.waitFor();
      if (result == null) {
        throw new IllegalStateException("a simulation process ended without its figures (exit "
            + process.exitValue() + ")");
      }
      return new JsonObject(result.substring("result ".length()));
    }

    /** The next line of its output starting with {@code prefix} (others are passed on); null at its end. */
    private String line(String prefix) throws java.io.IOException {
      String l;
      while ((l = out.readLine()) != null) {
        if (l.startsWith(prefix)) {
          return l;
        }
        System.out.println(l);
      }
      return null;
    }
  }

  /** {@code workers} simulated workers of one process, until no chunk is left; what they measured, as JSON. */
  private static Future<JsonObject> runWorkers(BenchDb db, String name, int workers, Setup setup) {
    Measured m = new Measured();
    JobRepository repo = new JobRepository(db.pool, events -> {
      long second = System.currentTimeMillis() / 1000;
      for (JobEvent e : events) {
        m.eventsPerSecond.computeIfAbsent(e.type() + "@" + second, k -> new LongAdder()).increment();
      }
    });
    // leases on a pool of their own, as a worker node has, or on the pool the writes use
    io.vertx.sqlclient.Pool leasePool = setup.leasePool() <= 0 ? db.pool : db.newPool(setup.leasePool());
    ChunkRepository chunks = new ChunkRepository(leasePool);
    JsonArray prediction = new JsonArray().add(new JsonObject().put("class_id", 16).put("class_name", "dog")
        .put("confidence", 0.87).put("bbox", new JsonObject().put("x1", 130.5).put("y1", 220.25).put("x2", 312.0)
            .put("y2", 541.75)));
    List<Future<Void>> loops = new ArrayList<>();
    for (int w = 0; w < workers; w++) {
      Promise<Void> done = Promise.promise();
      String id = "sim-" + name + "-" + w;
      long[] lastProgress = {0};
      db.vertx.runOnContext(v -> loop(db, chunks, repo, id, setup, prediction, m, lastProgress, done));
      loops.add(done.future());
    }
    return Future.all(loops).compose(x -> leasePool != db.pool ? leasePool.close() : Future.succeededFuture())
        .map(x -> {
          m.writeTransactions = repo.writeCounts()[0];
          m.statements.addAndGet(repo.writeCounts()[1]);
          return m.toJson();
        });
  }

  /** One simulated worker: lease, list, then per batch wait its images' time and write; until nothing is left. */
  private static void loop(BenchDb db, ChunkRepository chunks, JobRepository repo, String workerId, Setup setup,
                           JsonArray prediction, Measured m, long[] lastProgress, Promise<Void> done) {
    long l0 = System.nanoTime();
    long asked = System.currentTimeMillis();
    chunks.lease(workerId, 60).onComplete(ar -> {
      m.statements.addAndGet(LEASE);
      if (ar.failed()) {
        done.fail(ar.cause());
        return;
      }
      synchronized (m) {
        m.leaseMs.add((System.nanoTime() - l0) / 1e6);
        m.leaseAt.add(asked);
      }
      if (ar.result().isEmpty()) {
        done.complete();
        return;
      }
      ChunkLease lease = ar.result().get();
      chunks.pendingImages(lease).onComplete(listed -> {
        m.statements.addAndGet(LIST);
        if (listed.failed()) {
          done.fail(listed.cause());
          return;
        }
        batches(db, repo, lease, listed.result(), 0, workerId, setup, prediction, m, lastProgress).onComplete(b -> {
          if (b.failed()) {
            done.fail(b.cause());
          } else {
            loop(db, chunks, repo, workerId, setup, prediction, m, lastProgress, done);
          }
        });
      });
    });
  }

  private static Future<Void> batches(BenchDb db, JobRepository repo, ChunkLease lease, List<ImageRef> images,
                                      int from, String workerId, Setup setup, JsonArray prediction, Measured m,
                                      long[] lastProgress) {
    if (from >= images.size()) {
      return Future.succeededFuture();
    }
    int to = Math.min(images.size(), from + setup.batch());
    Promise<Void> ran = Promise.promise();
    db.vertx.setTimer(Math.max(1, Math.round((to - from) * setup.msPerImage())), t -> ran.complete());
    return ran.future().compose(v -> {
      List<ResultRow> rows = new ArrayList<>(to - from);
      for (ImageRef ref : images.subList(from, to)) {
        rows.add(new ResultRow(ref.index(), ref.name(), 768, 576, prediction, 0.0, 0.0, setup.msPerImage(), 0.0,
            null, null));
      }
      long now = System.nanoTime();
      boolean progress = now - lastProgress[0] >= 250_000_000L; // the worker's own limit: 4 a second per job
      if (progress) {
        lastProgress[0] = now;
      }
      boolean last = to == images.size();
      long w0 = System.nanoTime();
      long writeAsked = System.currentTimeMillis();
      Future<?> write = last ? repo.writeLastResults(lease, workerId, rows, progress, 1.0)
          : repo.writeResults(lease.jobId(), workerId, rows, progress);
      return write.compose(x -> {
        synchronized (m) {
          m.writeMs.add((System.nanoTime() - w0) / 1e6);
          m.writeAt.add(writeAsked);
        }
        return batches(db, repo, lease, images, to, workerId, setup, prediction, m, lastProgress);
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
