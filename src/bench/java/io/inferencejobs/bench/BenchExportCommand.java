package io.inferencejobs.bench;

import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code bench-export}: a job of N results (seeded straight into PostgreSQL, a few predictions each) exported over
 * HTTP as COCO, CSV and JSONL by an API node with a small heap, from this second process on loopback. Prints the
 * time, throughput, the node's heap in use (sampled from /metrics every 50 ms, per quarter of the download, so a
 * heap that grows with the job shows) and, as the bound, a bare keyset read of the same rows by this process.
 */
public final class BenchExportCommand {
  private BenchExportCommand() {
  }

  public static int run(String[] args) {
    Map<String, String> o = Args.parse(args);
    int results = Integer.parseInt(o.getOrDefault("results", "100000"));
    int perImage = Integer.parseInt(o.getOrDefault("predictions", "3"));
    List<String> formats = List.of(o.getOrDefault("formats", "coco,csv,jsonl").split(","));
    int repeat = Integer.parseInt(o.getOrDefault("repeat", "2"));
    String heap = o.getOrDefault("heap", "512m");
    try {
      bench(results, perImage, formats, repeat, heap);
      return 0;
    } catch (Exception e) {
      System.err.println("bench-export failed: " + e);
      e.printStackTrace();
      return 1;
    }
  }

  private static void bench(int n, int perImage, List<String> formats, int repeat, String heap) throws Exception {
    int pgPort = BenchDb.freePort();
    int s3Port = BenchDb.freePort();
    Map<String, String> env = BenchDb.nodeSettings(pgPort, s3Port);
    env.put("ROLES", "api");
    env.put("AUTH_ENABLED", "false"); // loopback only
    System.out.println("starting PostgreSQL + S3 and an API-only node (-Xmx" + heap + ") as separate JVMs ...");
    List<String> out = new ArrayList<>();
    try (ServiceProcess deps = BenchDb.startDeps(pgPort, s3Port);
         ServiceProcess api = ServiceProcess.start(heap, env);
         Http http = new Http(api.port, 4);
         BenchDb db = new BenchDb(pgPort)) {
      JsonObject body = http.oneImageJob();
      Http.Reply created = Http.await(http.json(HttpMethod.POST, Http.INF + "/jobs", body));
      if (created.status() != 201) {
        throw new IllegalStateException("job creation answered " + created.status() + " " + created.body());
      }
      long job = created.body().getLong("id");
      long t0 = System.nanoTime();
      seed(db, job, body.getJsonObject("input_data").getJsonArray("image_uris").getString(0), n, perImage);
      System.out.printf("seeded job %d: %,d results, %,d predictions in %.1f s%n", job, n, (long) n * perImage,
          (System.nanoTime() - t0) / 1e9);

      HttpClient metrics = HttpClient.newHttpClient();
      URI metricsUri = URI.create("http://127.0.0.1:" + api.port + "/metrics");
      double idleHeap = heapUsedMiB(metrics, metricsUri);
      Map<String, List<double[]>> runs = new HashMap<>();
      List<Double> bare = new ArrayList<>();
      for (int r = 0; r < repeat; r++) {
        // interleaved: each round exports every format once, then reads the rows bare
        for (String format : formats) {
          runs.computeIfAbsent(format, k -> new ArrayList<>()).add(export(http, metrics, metricsUri, job, format));
        }
        bare.add(bareRead(db, job));
      }
      double bareSecs = bare.stream().mapToDouble(Double::doubleValue).sorted().toArray()[bare.size() / 2];
      out.add(String.format("job: %,d results, %,d predictions; node heap in use when idle %.0f MiB", n,
          (long) n * perImage, idleHeap));
      out.add(String.format("bare keyset read of the same rows (this process, pages of 500): median %.2f s = %,.0f "
          + "results/s", bareSecs, n / bareSecs));
      out.add(String.format("%-6s %10s %9s %13s %15s %9s %30s %s", "format", "MiB", "s", "results/s",
          "predictions/s", "vs bare", "heap in use per quarter (MiB)", "peak heap"));
      for (String format : formats) {
        List<double[]> list = runs.get(format);
        list.sort((a, b) -> Double.compare(a[1], b[1]));
        double[] med = list.get(list.size() / 2);
        double spread = list.get(list.size() - 1)[1] - list.get(0)[1];
        out.add(String.format("%-6s %10.1f %5.2f±%.2f %,13.0f %,15.0f %9.2f %30s %6.0f MiB", format,
            med[0] / 1048576.0, med[1], spread / 2, n / med[1], (double) n * perImage / med[1], bareSecs / med[1],
            String.format("%.0f / %.0f / %.0f / %.0f", med[2], med[3], med[4], med[5]), med[6]));
      }
      out.add(String.format("node peak RSS %.0f MiB (-Xmx%s)", api.peakRssMiB(), heap));
    }
    System.out.println();
    System.out.println("== bench-export ==");
    out.forEach(System.out::println);
  }

  /** {bytes, seconds, heap max in each quarter (4), heap max overall}. */
  private static double[] export(Http http, HttpClient metrics, URI metricsUri, long job, String format)
      throws Exception {
    AtomicLong received = new AtomicLong();
    AtomicBoolean done = new AtomicBoolean();
    List<double[]> samples = new ArrayList<>(); // {bytes so far, heap MiB}
    Thread sampler = new Thread(() -> {
      while (!done.get()) {
        try {
          double h = heapUsedMiB(metrics, metricsUri);
          synchronized (samples) {
            samples.add(new double[] {received.get(), h});
          }
          Thread.sleep(50);
        } catch (Exception e) {
          return;
        }
      }
    }, "heap-sampler");
    sampler.start();
    Http.Download d = Http.await(http.download(Http.INF + "/jobs/" + job + "/export?format=" + format,
        received::set));
    done.set(true);
    sampler.join();
    if (d.status() != 200) {
      throw new IllegalStateException(format + " export answered " + d.status());
    }
    double[] quarter = new double[4];
    double peak = 0;
    for (double[] s : samples) {
      int q = (int) Math.min(3, Math.floor(s[0] * 4 / Math.max(1, d.bytes())));
      quarter[q] = Math.max(quarter[q], s[1]);
      peak = Math.max(peak, s[1]);
    }
    System.out.printf("  %s: %,d bytes in %.2f s%n", format, d.bytes(), d.seconds());
    return new double[] {d.bytes(), d.seconds(), quarter[0], quarter[1], quarter[2], quarter[3], peak};
  }

  /** Heap in use (all heap pools) from the node's Prometheus metrics. */
  private static double heapUsedMiB(HttpClient client, URI uri) throws Exception {
    String text = client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()).body();
    double sum = 0;
    for (String line : text.split("\n")) {
      if (line.startsWith("jvm_memory_used_bytes{") && line.contains("area=\"heap\"")) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum / 1048576.0;
  }

  private static void seed(BenchDb db, long job, String uri, int n, int perImage) {
    db.query("DELETE FROM job_chunks WHERE job_id = $1", Tuple.of(job));
    db.query("DELETE FROM job_images WHERE job_id = $1", Tuple.of(job));
    db.query("INSERT INTO job_images (job_id, image_index, s3_uri, image_name) SELECT $1, g, $2, "
        + "'image-' || g || '.jpg' FROM generate_series(0, $3 - 1) g", Tuple.of(job, uri, n));
    // predictions that differ per image (class, score and box move with the index), as a real job's do
    db.query("""
        INSERT INTO image_results (job_id, image_index, width, height, predictions, num_detections)
        SELECT $1, g, 768, 576, (SELECT jsonb_agg(jsonb_build_object(
            'class_id', (g + k) % 80, 'class_name', 'class-' || ((g + k) % 80),
            'confidence', round((0.25 + ((g * 7 + k * 13) % 75) / 100.0)::numeric, 4),
            'bbox', jsonb_build_object('x1', 10 + k * 50, 'y1', 20 + (g % 100), 'x2', 200 + k * 50,
                                       'y2', 300 + (g % 200))))
          FROM generate_series(0, $3 - 1) k), $3
        FROM generate_series(0, $2 - 1) g""", Tuple.of(job, n, perImage));
    db.query("UPDATE inference_jobs SET status = 'completed', total_images = $2, processed_images = $2, "
        + "failed_images = 0, started_at = now(), completed_at = now() WHERE id = $1", Tuple.of(job, n));
  }

  /** The export's page query, read in pages of 500 by this process and dropped. */
  private static double bareRead(BenchDb db, long job) {
    long t0 = System.nanoTime();
    int after = -1;
    while (true) {
      RowSet<Row> rows = db.query("""
          SELECT i.image_index, i.image_name, i.s3_uri, r.width, r.height, r.predictions, r.error, r.error_code
          FROM job_images i JOIN image_results r ON r.job_id = i.job_id AND r.image_index = i.image_index
          WHERE i.job_id = $1 AND i.image_index > $2 ORDER BY i.image_index LIMIT 500""", Tuple.of(job, after));
      int count = 0;
      for (Row r : rows) {
        after = r.getInteger("image_index");
        r.getJson("predictions");
        count++;
      }
      if (count < 500) {
        return (System.nanoTime() - t0) / 1e9;
      }
    }
  }
}
