package io.inferencejobs.bench;

import io.inferencejobs.inference.EngineOptions;
import io.inferencejobs.inference.InferenceEngine;
import io.inferencejobs.inference.PreparedImage;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code bench-service}: the job service under load from this (second) process on loopback. Prints, side by side:
 * one-image job latency with a warm model, a large job's throughput against the engine's bare session.run in the same
 * run, job-creation requests per second with p99, and the service's peak RSS with its heap capped.
 */
public final class BenchServiceCommand {
  private BenchServiceCommand() {
  }

  public static int run(String[] args) {
    Map<String, String> o = Args.parse(args);
    int latencyJobs = Integer.parseInt(o.getOrDefault("jobs", "50"));
    int bigJob = Integer.parseInt(o.getOrDefault("big-job", "200"));
    int memoryJob = Integer.parseInt(o.getOrDefault("memory-job", "2000"));
    int uploadMb = Integer.parseInt(o.getOrDefault("upload-mb", "200"));
    int createSeconds = Integer.parseInt(o.getOrDefault("create-seconds", "10"));
    int concurrency = Integer.parseInt(o.getOrDefault("concurrency", "32"));
    warmupSeconds = Integer.parseInt(o.getOrDefault("warmup-seconds", "15"));
    mixedJob = Integer.parseInt(o.getOrDefault("mixed-job", "0"));
    mixedCreates = Integer.parseInt(o.getOrDefault("mixed-creates", "50"));
    mixedStreams = Integer.parseInt(o.getOrDefault("mixed-streams", "100"));
    String heap = o.getOrDefault("heap", "512m");
    // extra settings for the service processes, e.g. --service-env WORKER_SLOTS=3,ENGINE_BATCH_SIZE=4
    for (String kv : o.getOrDefault("service-env", "").split(",")) {
      if (kv.contains("=")) {
        SERVICE_ENV.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
      }
    }
    boolean onlyCreate = o.containsKey("only-create");
    try {
      new BenchServiceCommand().bench(onlyCreate ? 0 : latencyJobs, bigJob, memoryJob, uploadMb, createSeconds,
          concurrency, heap, onlyCreate);
      return 0;
    } catch (Exception e) {
      System.err.println("bench-service failed: " + e);
      e.printStackTrace();
      return 1;
    }
  }

  private final Map<Long, Promise<Long>> terminal = new ConcurrentHashMap<>();
  private static final Map<String, String> SERVICE_ENV = new java.util.HashMap<>();
  private static int warmupSeconds = 15;
  private static int mixedJob;
  private static int mixedCreates;
  private static int mixedStreams;

  private void bench(int latencyJobs, int bigJob, int memoryJob, int uploadMb, int createSeconds, int concurrency,
                     String heap, boolean onlyCreate) throws Exception {
    List<String> out = new ArrayList<>();
    List<Path> photos;
    try (var files = Files.list(Http.sampleImagesDir())) {
      photos = files.filter(p -> p.toString().matches(".*\\.(jpg|png)$")).sorted().toList();
    }
    if (!onlyCreate) {
      serviceFigures(out, photos, latencyJobs, bigJob, memoryJob, uploadMb, heap);
    }
    if (createSeconds > 0) {
      createFigures(out, photos, createSeconds, concurrency, heap);
    }
    System.out.println();
    System.out.println("== bench-service ==");
    out.forEach(System.out::println);
  }

  private void serviceFigures(List<String> out, List<Path> photos, int latencyJobs, int bigJob, int memoryJob,
                              int uploadMb, String heap) throws Exception {
    System.out.println("starting the service (-Xmx" + heap + ", embedded PostgreSQL and S3, api+worker) ...");
    try (ServiceProcess svc = ServiceProcess.start(heap, SERVICE_ENV); Http http = new Http(svc.port, 512)) {
      Http.Reply up = Http.await(http.upload(1, photos));
      List<String> uris = new ArrayList<>();
      up.body().getJsonArray("uploaded_files").forEach(f -> uris.add(((JsonObject) f).getString("s3_uri")));
      String dog = uris.get(0);
      for (int i = 0; i < photos.size(); i++) {
        if (photos.get(i).getFileName().toString().equals("dog.jpg")) {
          dog = uris.get(i);
        }
      }
      Http.await(http.stream(Http.INF + "/events", ev -> {
        if (ev[0].equals("completed") || ev[0].equals("failed") || ev[0].equals("cancelled")) {
          long id = new JsonObject(ev[1]).getLong("id");
          terminal.computeIfAbsent(id, k -> Promise.promise()).tryComplete(System.nanoTime());
        }
      }));
      // warm the model
      runJob(http, List.of(dog));

      List<Double> latencies = new ArrayList<>();
      List<Double> model = new ArrayList<>();
      List<Double> image = new ArrayList<>();
      List<Double> overhead = new ArrayList<>();
      for (int i = 0; i < latencyJobs; i++) {
        long t0 = System.nanoTime();
        long id = createJob(http, List.of(dog));
        double ms = (await(id) - t0) / 1e6;
        JsonObject r = Http.await(http.json(HttpMethod.GET, Http.INF + "/jobs/" + id + "/results", null)).body()
            .getJsonArray("results").getJsonObject(0);
        double run = r.getDouble("inference_time_ms");
        double all = r.getDouble("decode_time_ms") + r.getDouble("preprocessing_time_ms") + run
            + r.getDouble("postprocessing_time_ms");
        latencies.add(ms);
        model.add(run);
        image.add(all);
        overhead.add(ms - run);
      }
      out.add(String.format("one-image job, create -> completed event (warm model): %s", Stats.summary(latencies)));
      out.add(String.format("  in the same jobs: model (session.run) p50 %.1f ms; the image's whole engine path (decode, "
              + "preprocess, run, postprocess) p50 %.1f ms; create -> completed minus model: p50 %.1f ms, p95 %.1f ms "
              + "(goal: <= 30 ms at p50)", Stats.pct(model, 50), Stats.pct(image, 50), Stats.pct(overhead, 50),
          Stats.pct(overhead, 95)));
      if (mixedJob > 0) {
        mixedFigures(out, http, svc, uris);
      }
      if (bigJob <= 0) {
        return;
      }

      double bare = bareEngine(photos);
      List<String> big = cycle(uris, bigJob);
      double cpu0 = svc.cpuSeconds();
      long id = createJob(http, big);
      await(id);
      JsonObject job = Http.await(http.json(HttpMethod.GET, Http.INF + "/jobs/" + id, null)).body();
      double secs = Duration.between(Instant.parse(job.getString("started_at")),
          Instant.parse(job.getString("completed_at"))).toMillis() / 1000.0;
      double jobRate = bigJob / secs;
      double cpu = svc.cpuSeconds() - cpu0;
      out.add(String.format("%d-image job: %.2f images/s (%.1f s, service CPU %.0f%% of 2 cores); engine bare "
              + "session.run: %.2f images/s; ratio %.2f", bigJob, jobRate, secs, 100 * cpu / secs / 2, bare,
          jobRate / bare));

      if (memoryJob > 0) {
        long mid = createJob(http, cycle(uris, memoryJob));
        long t0 = System.nanoTime();
        await(mid);
        out.add(String.format("%d-image job completed in %.1f s (%.2f images/s)", memoryJob,
            (System.nanoTime() - t0) / 1e9, memoryJob / ((System.nanoTime() - t0) / 1e9)));
      }
      if (uploadMb > 0) {
        Path bigFile = Files.createTempFile("bench-upload", ".jpg");
        try (OutputStream os = Files.newOutputStream(bigFile)) {
          byte[] block = new byte[1 << 20];
          block[0] = (byte) 0xFF;
          block[1] = (byte) 0xD8;
          block[2] = (byte) 0xFF;
          for (int i = 0; i < uploadMb; i++) {
            os.write(block);
            block[0] = 1;
          }
        }
        long t0 = System.nanoTime();
        Http.Reply r = Http.await(http.upload(1, List.of(bigFile)));
        out.add(String.format("%d MB upload: HTTP %d in %.1f s", uploadMb, r.status(),
            (System.nanoTime() - t0) / 1e9));
        Files.delete(bigFile);
      }
      out.add(String.format("service peak RSS with -Xmx%s: %.0f MiB", heap, svc.peakRssMiB()));
    }
  }

  /**
   * A job of {@code mixedJob} images alone, then again while {@code mixedStreams} clients hold the all-jobs stream
   * and one-image jobs are created at {@code mixedCreates} a second (they queue behind it: chunks are leased oldest
   * job first). Its images/s both times, and the creates' latency.
   */
  private void mixedFigures(List<String> out, Http http, ServiceProcess svc, List<String> uris) throws Exception {
    double alone = jobRate(http, cycle(uris, mixedJob));
    Http streams = new Http(svc.port, mixedStreams + 4);
    java.util.concurrent.atomic.AtomicLong events = new java.util.concurrent.atomic.AtomicLong();
    List<Future<Void>> opened = new ArrayList<>();
    for (int i = 0; i < mixedStreams; i++) {
      opened.add(streams.stream(Http.INF + "/events", ev -> events.incrementAndGet()));
    }
    Http.await(Future.all(opened));
    List<Double> createLat = Collections.synchronizedList(new ArrayList<>());
    AtomicLong createErrors = new AtomicLong();
    long id = createJob(http, cycle(uris, mixedJob));
    // the job's own stream says when it ends (the all-jobs stream of this process carries 50 events a second)
    Promise<Void> ended = Promise.promise();
    Http.await(streams.stream(Http.INF + "/jobs/" + id + "/events", ev -> {
      if (ev[0].equals("completed") || ev[0].equals("failed") || ev[0].equals("cancelled")) {
        ended.tryComplete();
      }
    }));
    JsonObject small = request(List.of(uris.get(0)));
    Thread creator = new Thread(() -> {
      long period = 1_000_000_000L / mixedCreates;
      long next = System.nanoTime();
      while (!Thread.currentThread().isInterrupted()) {
        long t0 = System.nanoTime();
        http.json(HttpMethod.POST, Http.INF + "/jobs", small).onComplete(ar -> {
          if (ar.succeeded() && ar.result().status() == 201) {
            createLat.add((System.nanoTime() - t0) / 1e6);
          } else {
            createErrors.incrementAndGet();
          }
        });
        next += period;
        long wait = next - System.nanoTime();
        if (wait > 0) {
          java.util.concurrent.locks.LockSupport.parkNanos(wait); // pacing of the load, not synchronisation
        }
      }
    }, "bench-creates");
    creator.start();
    Http.await(ended.future());
    creator.interrupt();
    creator.join();
    double mixed = rate(http, id);
    streams.close();
    out.add(String.format("%d-image job alone: %.2f images/s; with %d SSE clients and %d creates/s: %.2f images/s; "
            + "ratio %.2f (goal >= 0.9); creates meanwhile %s, errors %d; events received by the clients %d",
        mixedJob, alone, mixedStreams, mixedCreates, mixed, mixed / alone, Stats.summary(createLat),
        createErrors.get(), events.get()));
    // the queued one-image jobs are left to the worker: the figures above are taken
  }

  private double jobRate(Http http, List<String> images) {
    long id = createJob(http, images);
    await(id);
    return rate(http, id);
  }

  /** A finished job's images per second, from its own started_at and completed_at. */
  private static double rate(Http http, long id) {
    JsonObject job = Http.await(http.json(HttpMethod.GET, Http.INF + "/jobs/" + id, null)).body();
    double secs = Duration.between(Instant.parse(job.getString("started_at")),
        Instant.parse(job.getString("completed_at"))).toMillis() / 1000.0;
    return job.getInteger("total_images") / secs;
  }

  private void createFigures(List<String> out, List<Path> photos, int createSeconds, int concurrency, String heap)
      throws Exception {
    System.out.println("starting PostgreSQL + S3 and an API-only service for the job-creation load ...");
    int pgPort = BenchDb.freePort();
    int s3Port = BenchDb.freePort();
    Map<String, String> env = new java.util.HashMap<>(BenchDb.nodeSettings(pgPort, s3Port));
    env.putAll(SERVICE_ENV);
    env.put("ROLES", "api");
    // the load comes from one client: per-key limits would measure the limiter, not the service
    env.put("RATE_PER_SECOND", "0");
    env.put("MAX_ACTIVE_JOBS_PER_TENANT", "0");
    int poolSize = Integer.parseInt(env.getOrDefault("PG_POOL_SIZE", "8"));
    try (ServiceProcess deps = BenchDb.startDeps(pgPort, s3Port);
         ServiceProcess svc = ServiceProcess.start(heap, env);
         Http http = new Http(svc.port, concurrency);
         BenchDb db = new BenchDb(pgPort, poolSize)) {
      Http.Reply up = Http.await(http.upload(1, photos.subList(0, 1)));
      String uri = up.body().getJsonArray("uploaded_files").getJsonObject(0).getString("s3_uri");
      JsonObject body = request(List.of(uri));
      // a warm-up long enough for the JIT to have compiled the request path (with 2 s, half the service's CPU in
      // the measured window went to the C2 compiler), then the measured windows
      load(http, body, concurrency, warmupSeconds, new ArrayList<>());
      bare(db, uri, concurrency, Math.min(warmupSeconds, 5), new ArrayList<>());
      // service and bare SQL interleaved, twice each: the machine is noisy
      List<Double> serviceRates = new ArrayList<>();
      List<Double> bareRates = new ArrayList<>();
      List<Double> serviceLat = Collections.synchronizedList(new ArrayList<>());
      List<Double> bareLat = Collections.synchronizedList(new ArrayList<>());
      double cpu = 0;
      for (int round = 0; round < 2; round++) {
        List<Double> lat = Collections.synchronizedList(new ArrayList<>());
        double cpu0 = svc.cpuSeconds();
        long[] counts = load(http, body, concurrency, createSeconds, lat);
        cpu += svc.cpuSeconds() - cpu0;
        serviceRates.add(counts[0] / (double) createSeconds);
        serviceLat.addAll(lat);
        if (counts[1] > 0) {
          out.add("service round " + round + ": " + counts[1] + " errors");
        }
        List<Double> bl = Collections.synchronizedList(new ArrayList<>());
        long n = bare(db, uri, concurrency, createSeconds, bl);
        bareRates.add(n / (double) createSeconds);
        bareLat.addAll(bl);
      }
      double service = Stats.pct(serviceRates, 50);
      double bareRate = Stats.pct(bareRates, 50);
      out.add(String.format("job creation, %d concurrent clients, 2 x %d s: %.0f requests/s (rounds %s), %s",
          concurrency, createSeconds, service, rates(serviceRates), Stats.summary(serviceLat)));
      out.add(String.format("bare SQL, the same rows (job, image, chunk, status event) in one statement over a pool "
              + "of %d, %d concurrent: %.0f jobs/s (rounds %s), %s", poolSize, concurrency, bareRate,
          rates(bareRates), Stats.summary(bareLat)));
      out.add(String.format("service / bare SQL: %.2f", service / bareRate));
      out.add(String.format("API-only service peak RSS: %.0f MiB, service CPU during its windows: %.0f%% of 2 cores",
          svc.peakRssMiB(), 100 * cpu / (2.0 * createSeconds) / 2));
    }
  }

  private static String rates(List<Double> rates) {
    return rates.stream().map(r -> String.format("%.0f", r)).collect(java.util.stream.Collectors.joining(", "));
  }

  /**
   * The SQL floor of a create: the rows a one-image job stores (the job, its image, its chunk and its first status
   * event) in one statement, {@code concurrency} loops over the pool for {@code seconds}; returns the count.
   */
  private static long bare(BenchDb db, String uri, int concurrency, int seconds, List<Double> lat) {
    String sql = """
        WITH j AS (
          INSERT INTO inference_jobs (training_job_id, checkpoint_path, model_uri, inference_type, task_type, status,
                                      input_data, total_images, event_seq)
          VALUES (1, 'pretrained', $1, 'batch', 'detection', 'pending', $2::jsonb, 1, 1) RETURNING id),
        i AS (INSERT INTO job_images (job_id, image_index, s3_uri, image_name) SELECT j.id, 0, $1, 'bench.jpg' FROM j),
        c AS (INSERT INTO job_chunks (job_id, chunk_index, first_index, end_index, state)
              SELECT j.id, 0, 0, 1, 'pending' FROM j)
        INSERT INTO job_events (job_id, seq, type, data) SELECT j.id, 1, 'status', $2::jsonb FROM j RETURNING job_id""";
    String input = new JsonObject().put("image_uris", new JsonArray().add(uri)).encode();
    long deadline = System.nanoTime() + seconds * 1_000_000_000L;
    AtomicLong ok = new AtomicLong();
    List<Future<Void>> loops = new ArrayList<>();
    for (int i = 0; i < concurrency; i++) {
      Promise<Void> done = Promise.promise();
      bareLoop(db, sql, io.vertx.sqlclient.Tuple.of(uri, input), deadline, ok, lat, done);
      loops.add(done.future());
    }
    Http.await(Future.all(loops));
    return ok.get();
  }

  private static void bareLoop(BenchDb db, String sql, io.vertx.sqlclient.Tuple args, long deadline, AtomicLong ok,
                               List<Double> lat, Promise<Void> done) {
    if (System.nanoTime() >= deadline) {
      done.complete();
      return;
    }
    long t0 = System.nanoTime();
    db.pool.preparedQuery(sql).execute(args).onComplete(ar -> {
      if (ar.failed()) {
        done.fail(ar.cause());
        return;
      }
      ok.incrementAndGet();
      lat.add((System.nanoTime() - t0) / 1e6);
      bareLoop(db, sql, args, deadline, ok, lat, done);
    });
  }

  private static long[] load(Http http, JsonObject body, int concurrency, int seconds, List<Double> lat) {
    long deadline = System.nanoTime() + seconds * 1_000_000_000L;
    AtomicLong ok = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    List<Future<Void>> loops = new ArrayList<>();
    for (int i = 0; i < concurrency; i++) {
      Promise<Void> done = Promise.promise();
      loop(http, body, deadline, ok, errors, lat, done);
      loops.add(done.future());
    }
    Http.await(Future.all(loops));
    return new long[] {ok.get(), errors.get()};
  }

  private static void loop(Http http, JsonObject body, long deadline, AtomicLong ok, AtomicLong errors,
                           List<Double> lat, Promise<Void> done) {
    if (System.nanoTime() >= deadline) {
      done.complete();
      return;
    }
    long t0 = System.nanoTime();
    http.json(HttpMethod.POST, Http.INF + "/jobs", body).onComplete(ar -> {
      if (ar.succeeded() && ar.result().status() == 201) {
        ok.incrementAndGet();
        lat.add((System.nanoTime() - t0) / 1e6);
      } else {
        errors.incrementAndGet();
      }
      loop(http, body, deadline, ok, errors, lat, done);
    });
  }

  /** Bare session.run on ready tensors, same model, default threads and batch 8, as the service's worker. */
  private static double bareEngine(List<Path> photos) throws Exception {
    byte[] model;
    try (InputStream in = BenchServiceCommand.class.getResourceAsStream("/models/centernet_coco80_yolov8.onnx")) {
      model = in.readAllBytes();
    }
    try (InferenceEngine engine = InferenceEngine.load(model, null, EngineOptions.defaults())) {
      List<PreparedImage> batch = new ArrayList<>();
      for (int i = 0; i < engine.batchSize(); i++) {
        batch.add(engine.prepare(Files.readAllBytes(photos.get(i % photos.size()))));
      }
      FloatBuffer input = engine.packInputs(batch);
      engine.runRaw(input, batch.size());
      int images = 0;
      long t0 = System.nanoTime();
      while (System.nanoTime() - t0 < 10_000_000_000L) {
        engine.runRaw(input, batch.size());
        images += batch.size();
      }
      return images / ((System.nanoTime() - t0) / 1e9);
    }
  }

  private static List<String> cycle(List<String> uris, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(uris.get(i % uris.size()));
    }
    return out;
  }

  private static JsonObject request(List<String> uris) {
    return new JsonObject().put("training_job_id", 1).put("checkpoint_path", "pretrained")
        .put("inference_type", "batch").put("input_data", new JsonObject().put("image_uris", new JsonArray(uris)));
  }

  private long createJob(Http http, List<String> uris) {
    Http.Reply r = Http.await(http.json(HttpMethod.POST, Http.INF + "/jobs", request(uris)));
    if (r.status() != 201) {
      throw new IllegalStateException("job not created: " + r.status() + " " + r.body());
    }
    return r.body().getLong("id");
  }

  private long await(long id) {
    return Http.await(terminal.computeIfAbsent(id, k -> Promise.promise()).future());
  }

  private long runJob(Http http, List<String> uris) {
    return await(createJob(http, uris));
  }
}
