package io.inferencejobs.bench;

import io.vertx.core.Future;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code bench-sse}: SSE streams held open by one API node from this (second) process on loopback, and the delay
 * from a state change to its event reaching every subscriber, at several subscriber counts. The node runs without
 * workers, so the only events are the {@code status} events of the jobs this benchmark creates.
 */
public final class BenchSseCommand {
  private BenchSseCommand() {
  }

  public static int run(String[] args) {
    Map<String, String> o = Args.parse(args);
    String[] counts = o.getOrDefault("subscribers", "1,100,10000").split(",");
    int rounds = Integer.parseInt(o.getOrDefault("rounds", "20"));
    String heap = o.getOrDefault("heap", "512m");
    try {
      bench(counts, rounds, heap);
      return 0;
    } catch (Exception e) {
      System.err.println("bench-sse failed: " + e);
      e.printStackTrace();
      return 1;
    }
  }

  private static void bench(String[] counts, int rounds, String heap) throws Exception {
    List<String> out = new ArrayList<>();
    System.out.println("starting an API-only service (-Xmx" + heap + ") ...");
    try (ServiceProcess svc = ServiceProcess.start(heap, Map.of("ROLES", "api"));
         Http http = new Http(svc.port, 16)) {
      Path dog = Http.sampleImagesDir().resolve("dog.jpg");
      String uri = Http.await(http.upload(1, List.of(dog))).body().getJsonArray("uploaded_files").getJsonObject(0)
          .getString("s3_uri");
      JsonObject body = new JsonObject().put("training_job_id", 1).put("checkpoint_path", "pretrained")
          .put("inference_type", "batch").put("input_data", new JsonObject().put("image_uris", new JsonArray()
              .add(uri)));
      for (String c : counts) {
        int n = Integer.parseInt(c.trim());
        // arrival times of each job's "status" event, per subscriber
        Map<Long, List<Long>> arrivals = new ConcurrentHashMap<>();
        Map<Long, CountDownLatch> latches = new ConcurrentHashMap<>();
        CountDownLatch snapshots = new CountDownLatch(n);
        long t0 = System.nanoTime();
        List<Future<Void>> opened = new ArrayList<>();
        Http subscribers = new Http(svc.port, n + 16);
        for (int i = 0; i < n; i++) {
          opened.add(subscribers.stream(Http.INF + "/events", ev -> {
            if (ev[0].equals("snapshot")) {
              snapshots.countDown();
            } else if (ev[0].equals("status")) {
              long now = System.nanoTime();
              long id = new JsonObject(ev[1]).getLong("id");
              arrivals.computeIfAbsent(id, k -> Collections.synchronizedList(new ArrayList<>())).add(now);
              CountDownLatch l = latches.get(id);
              if (l != null) {
                l.countDown();
              }
            }
          }));
          if (opened.size() == 500) {
            Http.await(Future.all(opened));
            opened.clear();
          }
        }
        Http.await(Future.all(opened));
        if (!snapshots.await(120, TimeUnit.SECONDS)) {
          throw new IllegalStateException("not every stream got its snapshot");
        }
        double openSecs = (System.nanoTime() - t0) / 1e9;
        double rssOpen = svc.rssMiB();
        List<Double> delays = Collections.synchronizedList(new ArrayList<>());
        List<Double> rtt = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
          long sent = System.nanoTime();
          Http.Reply reply = Http.await(http.json(HttpMethod.POST, Http.INF + "/jobs", body));
          long answered = System.nanoTime();
          long id = reply.body().getLong("id");
          CountDownLatch all = new CountDownLatch(n);
          latches.put(id, all);
          List<Long> already = arrivals.getOrDefault(id, List.of());
          synchronized (already) {
            for (int k = 0; k < already.size(); k++) {
              all.countDown();
            }
          }
          if (!all.await(120, TimeUnit.SECONDS)) {
            throw new IllegalStateException("round " + r + ": not every subscriber got the event");
          }
          rtt.add((answered - sent) / 1e6);
          for (long at : arrivals.get(id)) {
            delays.add((at - sent) / 1e6);
          }
        }
        out.add(String.format("%6d streams: opened in %.1f s; service RSS %.0f MiB; POST round trip p50 %.1f ms; "
                + "request sent -> event at subscriber: p50 %.1f ms, p99 %.1f ms (%d deliveries)", n, openSecs,
            rssOpen, Stats.pct(rtt, 50), Stats.pct(delays, 50), Stats.pct(delays, 99), delays.size()));
        // closing the client closes its connections; the server releases them
        subscribers.close();
      }
      out.add(String.format("service peak RSS with -Xmx%s: %.0f MiB", heap, svc.peakRssMiB()));
    }
    System.out.println();
    System.out.println("== bench-sse ==");
    out.forEach(System.out::println);
  }
}
