package io.inferencejobs.bench;

import io.vertx.core.Future;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;

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
    // API verticle instances of the service, one run each: 1 (one event loop) against 0 (one per core)
    String[] instances = o.getOrDefault("instances", "1,0").split(",");
    // --parse-json: each subscriber parses every event's whole JSON, as this client did before (for comparison)
    boolean parseJson = o.containsKey("parse-json");
    // event loops of this client's streams (default: one per core)
    int clientLoops = Integer.parseInt(o.getOrDefault("client-loops",
        Integer.toString(Runtime.getRuntime().availableProcessors())));
    try {
      List<String> out = new ArrayList<>();
      for (String i : instances) {
        bench(counts, rounds, heap, Integer.parseInt(i.trim()), parseJson, clientLoops, out);
      }
      System.out.println();
      System.out.println("== bench-sse ==");
      out.forEach(System.out::println);
      return 0;
    } catch (Exception e) {
      System.err.println("bench-sse failed: " + e);
      e.printStackTrace();
      return 1;
    }
  }

  /**
   * The job id of an all-jobs event's data, read from its {@code job_id} field (the last one) without parsing the
   * whole job: 10,000 subscribers in this one process parsing every job's JSON made the client, not the service, the
   * slowest part of the delivery.
   */
  static long jobId(String data) {
    int at = data.lastIndexOf("\"job_id\":");
    if (at < 0) {
      throw new IllegalStateException("an event without job_id: " + data);
    }
    int i = at + 9;
    long id = 0;
    while (i < data.length() && Character.isDigit(data.charAt(i))) {
      id = id * 10 + (data.charAt(i++) - '0');
    }
    return id;
  }

  private static void bench(String[] counts, int rounds, String heap, int instances, boolean parseJson,
                            int clientLoops, List<String> out) throws Exception {
    String loops = instances == 0 ? "one API instance per core (" + Runtime.getRuntime().availableProcessors() + ")"
        : instances + " API instance" + (instances == 1 ? "" : "s");
    System.out.println("starting an API-only service (-Xmx" + heap + ", " + loops + ") ...");
    out.add("-- " + loops);
    // every stream comes from this one address and tenant: the node's per-address, per-tenant and total connection
    // limits (1,000 / 1,000 / 10,000 by default) would answer 503 before the benchmark's count
    try (ServiceProcess svc = ServiceProcess.start(heap, Map.of("ROLES", "api", "HTTP_MAX_CONNECTIONS", "0",
        "HTTP_MAX_CONNECTIONS_PER_ADDRESS", "0", "MAX_STREAMS_PER_TENANT", "0",
        "HTTP_INSTANCES", Integer.toString(instances)));
         Http http = new Http(svc.port, 16)) {
      JsonObject body = http.oneImageJob();
      for (String c : counts) {
        int n = Integer.parseInt(c.trim());
        // arrival times of each job's "status" event, per subscriber
        Map<Long, List<Long>> arrivals = new ConcurrentHashMap<>();
        CountDownLatch snapshots = new CountDownLatch(n);
        long t0 = System.nanoTime();
        List<Future<Void>> opened = new ArrayList<>();
        Http subscribers = new Http(svc.port, n + 16, clientLoops);
        for (int i = 0; i < n; i++) {
          opened.add(subscribers.stream(Http.INF + "/events", ev -> {
            if (ev[0].equals("snapshot")) {
              snapshots.countDown();
            } else if (ev[0].equals("status")) {
              long now = System.nanoTime();
              long id = parseJson ? new JsonObject(ev[1]).getLong("id") : jobId(ev[1]);
              arrivals.computeIfAbsent(id, k -> Collections.synchronizedList(new ArrayList<>())).add(now);
            }
          }));
          if (opened.size() == 250 || i == n - 1) {
            // open in steps, each step waiting for its snapshots: a stream's catch-up reads PostgreSQL
            Http.await(Future.all(opened));
            opened.clear();
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (snapshots.getCount() > n - 1 - i) {
              if (System.nanoTime() > deadline) {
                throw new IllegalStateException("streams did not get their snapshot: " + snapshots.getCount()
                    + " missing of " + (i + 1));
              }
              Thread.sleep(5);
            }
          }
        }
        double openSecs = (System.nanoTime() - t0) / 1e9;
        double rssOpen = svc.rssMiB();
        List<Double> delays = Collections.synchronizedList(new ArrayList<>());
        List<Double> fanOut = new ArrayList<>();
        List<Double> rtt = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
          long sent = System.nanoTime();
          Http.Reply reply = Http.await(http.json(HttpMethod.POST, Http.INF + "/jobs", body));
          long answered = System.nanoTime();
          long id = reply.body().getLong("id");
          List<Long> got = arrivals.computeIfAbsent(id, k -> Collections.synchronizedList(new ArrayList<>()));
          long deadline = System.nanoTime() + 120_000_000_000L;
          while (got.size() < n) {
            if (System.nanoTime() > deadline) {
              throw new IllegalStateException("round " + r + ": " + got.size() + " of " + n + " got the event");
            }
            Thread.sleep(1);
          }
          rtt.add((answered - sent) / 1e6);
          synchronized (got) {
            long first = Collections.min(got);
            for (long at : got) {
              delays.add((at - sent) / 1e6);
              // the first subscriber's receipt comes after the commit: from it, the fan-out alone
              fanOut.add((at - first) / 1e6);
            }
          }
        }
        out.add(String.format("%6d streams: opened in %.1f s; service RSS %.0f MiB; POST round trip p50 %.1f ms; "
                + "request sent -> event at subscriber: p50 %.1f ms, p99 %.1f ms; first subscriber's event -> each "
                + "subscriber's (fan-out): p50 %.1f ms, p99 %.1f ms (%d deliveries)", n, openSecs,
            rssOpen, Stats.pct(rtt, 50), Stats.pct(delays, 50), Stats.pct(delays, 99), Stats.pct(fanOut, 50),
            Stats.pct(fanOut, 99), delays.size()));
        // closing the client closes its connections; the server releases them
        subscribers.close();
      }
      out.add(String.format("service peak RSS with -Xmx%s: %.0f MiB", heap, svc.peakRssMiB()));
    }
  }
}
