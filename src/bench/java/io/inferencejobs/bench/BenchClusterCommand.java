package io.inferencejobs.bench;

import io.inferencejobs.jobs.ChunkLease;
import io.inferencejobs.jobs.ImageRef;
import io.inferencejobs.jobs.JobRepository;
import io.inferencejobs.jobs.NewJob;
import io.vertx.core.Promise;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code bench-cluster}: a local cluster of separate JVMs on loopback (one PostgreSQL + S3 process, one API node,
 * worker nodes). Prints one large job's throughput on one worker process and on two, with their CPU use; the cost of
 * dispatching one chunk through PostgreSQL (lease, list, finish); and the time from a worker's death to its chunks
 * running elsewhere.
 */
public final class BenchClusterCommand {
  private BenchClusterCommand() {
  }

  public static int run(String[] args) {
    Map<String, String> o = Args.parse(args);
    int images = Integer.parseInt(o.getOrDefault("images", "160"));
    int lease = Integer.parseInt(o.getOrDefault("lease-seconds", "5"));
    try {
      if (o.containsKey("sim-worker")) { // a child process of --simulate
        return DispatchSimulation.worker(o);
      }
      if (o.containsKey("simulate")) {
        DispatchSimulation.run(Integer.parseInt(o.get("simulate")),
            Integer.parseInt(o.getOrDefault("sim-workers", "64")),
            Integer.parseInt(o.getOrDefault("sim-processes", "4")),
            java.util.Arrays.stream(o.getOrDefault("sim-chunk", "32").split(",")).mapToInt(Integer::parseInt)
                .toArray(),
            new DispatchSimulation.Setup(Integer.parseInt(o.getOrDefault("sim-batch", "8")),
                Double.parseDouble(o.getOrDefault("sim-ms", "1")),
                Integer.parseInt(o.getOrDefault("sim-lease-pool", "2"))));
        return 0;
      }
      new BenchClusterCommand().bench(images, lease);
      return 0;
    } catch (Exception e) {
      System.err.println("bench-cluster failed: " + e);
      e.printStackTrace();
      return 1;
    }
  }

  private final Map<Long, Promise<Long>> terminal = new ConcurrentHashMap<>();

  private void bench(int images, int lease) throws Exception {
    List<String> out = new ArrayList<>();
    int pgPort = BenchDb.freePort();
    int s3Port = BenchDb.freePort();
    List<Integer> hz = List.of(BenchDb.freePort(), BenchDb.freePort(), BenchDb.freePort(), BenchDb.freePort());
    Map<String, String> common = new HashMap<>();
    common.put("CLUSTERED", "true");
    common.put("AUTH_ENABLED", "false"); // loopback only
    common.put("CLUSTER_MEMBERS", String.join(",", hz.stream().map(p -> "127.0.0.1:" + p).toList()));
    common.putAll(BenchDb.nodeSettings(pgPort, s3Port));
    common.put("WORKER_LEASE_SECONDS", Integer.toString(lease));
    common.put("WORKER_DEVICES", "cpu");
    System.out.println("starting PostgreSQL + S3, an API node and worker nodes (separate JVMs) ...");
    try (ServiceProcess deps = BenchDb.startDeps(pgPort, s3Port);
         ServiceProcess api = ServiceProcess.start("512m", with(common, "ROLES", "api", "CLUSTER_PORT", hz.get(0)));
         Http http = new Http(api.port, 64)) {
      List<Path> photos;
      try (var files = Files.list(Http.sampleImagesDir())) {
        photos = files.filter(p -> p.toString().matches(".*\\.(jpg|png)$")).sorted().toList();
      }
      List<String> uris = new ArrayList<>();
      Http.await(http.upload(1, photos)).body().getJsonArray("uploaded_files")
          .forEach(f -> uris.add(((JsonObject) f).getString("s3_uri")));
      Http.await(http.stream(Http.INF + "/events", ev -> {
        if (ev[0].equals("completed") || ev[0].equals("failed") || ev[0].equals("cancelled")) {
          terminal.computeIfAbsent(new JsonObject(ev[1]).getLong("id"), k -> Promise.promise())
              .tryComplete(System.nanoTime());
        }
      }));

      double oneRate;
      double oneCpu;
      try (ServiceProcess w1 = ServiceProcess.start("512m", with(common, "ROLES", "worker", "CLUSTER_PORT",
          hz.get(1)), "serve", "inference-jobs ready")) {
        runJob(http, uris, 8); // warm the model
        double cpu0 = w1.cpuSeconds();
        double[] r = runJob(http, uris, images);
        oneRate = r[0];
        oneCpu = (w1.cpuSeconds() - cpu0) / r[1];
        out.add(String.format("1 worker process : %.2f images/s (%d images in %.1f s), worker CPU %.0f%% of 2 cores",
            oneRate, images, r[1], 100 * oneCpu / 2));
        try (ServiceProcess w2 = ServiceProcess.start("512m", with(common, "ROLES", "worker", "CLUSTER_PORT",
            hz.get(2)), "serve", "inference-jobs ready")) {
          runJob(http, uris, 8);
          double c1 = w1.cpuSeconds();
          double c2 = w2.cpuSeconds();
          double[] r2 = runJob(http, uris, images);
          double cpu = (w1.cpuSeconds() - c1 + w2.cpuSeconds() - c2) / r2[1];
          out.add(String.format("2 worker processes: %.2f images/s (%d images in %.1f s), workers' CPU %.0f%% of 2 "
              + "cores; ratio 2/1 = %.2f", r2[0], images, r2[1], 100 * cpu / 2, r2[0] / oneRate));

          // failover: kill worker 2 while it holds chunks; time until none of its chunks is still leased to it
          long job = createJob(http, uris, images);
          String w2Owner = waitForLeaseHolder(job, pgPort, w1, w2);
          long killed = System.nanoTime();
          w2.process.destroyForcibly();
          double failover = waitUntilReleasedElsewhere(job, pgPort, w2Owner);
          Http.await(terminal.computeIfAbsent(job, k -> Promise.promise()).future());
          out.add(String.format("worker killed (SIGKILL) -> its chunks leased by another worker: %.1f s (lease %d s, "
              + "poll resolution 50 ms)", failover - (killed - started) / 1e9, lease));
          out.add(String.format("job with a killed worker completed: %s", Http.await(http.json(HttpMethod.GET,
              Http.INF + "/jobs/" + job, null)).body().getString("status")));
        }
      }
      out.add(dispatchOverhead(pgPort));
    }
    System.out.println();
    System.out.println("== bench-cluster ==");
    out.forEach(System.out::println);
  }

  private long started;

  /** Waits until worker 2 (not worker 1) holds a lease on the job; returns its lease owner id. */
  private String waitForLeaseHolder(long job, int pgPort, ServiceProcess w1, ServiceProcess w2) throws Exception {
    try (BenchDb db = new BenchDb(pgPort)) {
      String w1Pid = "-" + w1.process.pid() + "-";
      for (int i = 0; i < 600; i++) {
        for (Row r : db.query("SELECT DISTINCT lease_owner FROM job_chunks WHERE job_id = $1 AND state = 'leased'",
            Tuple.of(job))) {
          String owner = r.getString("lease_owner");
          if (owner != null && !owner.contains(w1Pid) && owner.contains("-" + w2.process.pid() + "-")) {
            started = System.nanoTime();
            return owner;
          }
        }
        Thread.sleep(50);
      }
    }
    throw new IllegalStateException("worker 2 never leased a chunk of job " + job);
  }

  /** Seconds (since {@link #started}) until the dead worker's chunks are leased by someone else or done. */
  private double waitUntilReleasedElsewhere(long job, int pgPort, String owner) throws Exception {
    try (BenchDb db = new BenchDb(pgPort)) {
      List<Integer> chunks = new ArrayList<>();
      for (Row r : db.query("SELECT chunk_index FROM job_chunks WHERE job_id = $1 AND lease_owner = $2",
          Tuple.of(job, owner))) {
        chunks.add(r.getInteger("chunk_index"));
      }
      while (true) {
        Row r = db.query("SELECT count(*) AS n FROM job_chunks WHERE job_id = $1 AND chunk_index = ANY($2) "
            + "AND lease_owner = $3", Tuple.of(job, chunks.toArray(Integer[]::new), owner)).iterator().next();
        if (r.getLong("n") == 0) {
          return (System.nanoTime() - started) / 1e9;
        }
        Thread.sleep(50);
      }
    }
  }

  /** Lease + list + finish of one chunk, timed against the cluster's PostgreSQL, without inference. */
  private static String dispatchOverhead(int pgPort) throws Exception {
    try (BenchDb db = new BenchDb(pgPort)) {
      JobRepository repo = new JobRepository(db.pool, events -> { });
      io.inferencejobs.jobs.ChunkRepository leases = new io.inferencejobs.jobs.ChunkRepository(db.pool);
      int chunks = 300;
      List<ImageRef> refs = new ArrayList<>();
      for (int i = 0; i < chunks; i++) {
        refs.add(new ImageRef(i, "s3://inference-jobs/none/" + i + ".jpg", i + ".jpg"));
      }
      long trainingJob = db.query("SELECT id FROM training_jobs ORDER BY id LIMIT 1", Tuple.tuple()).iterator().next()
          .getLong("id");
      var job = Http.await(repo.create(new NewJob(trainingJob, "pretrained", "s3://inference-jobs/none.onnx", "batch",
          "detection", new JsonObject(), null, null, null, null, null, null), refs, 1, 0));
      Http.await(repo.transition(job.id(), io.inferencejobs.jobs.JobStatus.RUNNING, null));
      // a paused copy: the cluster's workers must not take these chunks
      List<Double> ms = new ArrayList<>();
      for (int i = 0; i < chunks; i++) {
        long t0 = System.nanoTime();
        Optional<ChunkLease> lease = Http.await(leases.lease("bench-dispatch", 30));
        if (lease.isEmpty()) {
          break;
        }
        Http.await(leases.pendingImages(lease.get()));
        Http.await(repo.finishChunk(lease.get(), "bench-dispatch", 1.0));
        ms.add((System.nanoTime() - t0) / 1e6);
      }
      return String.format("dispatch of one chunk (lease + list images + finish, PostgreSQL round trips, no "
          + "inference): %s", Stats.summary(ms));
    }
  }

  private double[] runJob(Http http, List<String> uris, int count) {
    long id = createJob(http, uris, count);
    Http.await(terminal.computeIfAbsent(id, k -> Promise.promise()).future());
    JsonObject job = Http.await(http.json(HttpMethod.GET, Http.INF + "/jobs/" + id, null)).body();
    double secs = Duration.between(Instant.parse(job.getString("started_at")),
        Instant.parse(job.getString("completed_at"))).toMillis() / 1000.0;
    return new double[] {count / secs, secs};
  }

  private static long createJob(Http http, List<String> uris, int count) {
    JsonArray list = new JsonArray();
    for (int i = 0; i < count; i++) {
      list.add(uris.get(i % uris.size()));
    }
    Http.Reply r = Http.await(http.json(HttpMethod.POST, Http.INF + "/jobs", new JsonObject()
        .put("training_job_id", 1).put("checkpoint_path", "pretrained").put("inference_type", "batch")
        .put("input_data", new JsonObject().put("image_uris", list))));
    if (r.status() != 201) {
      throw new IllegalStateException("job not created: " + r.body());
    }
    return r.body().getLong("id");
  }

  private static Map<String, String> with(Map<String, String> base, Object... kv) {
    Map<String, String> m = new HashMap<>(base);
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i].toString(), kv[i + 1].toString());
    }
    return m;
  }
}
