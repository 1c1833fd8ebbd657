package io.inferencejobs.api;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What every API verticle instance of a node shares. A node runs one instance per event loop ({@code http.instances},
 * one per core by default), all listening on the same port; a connection belongs to one of them. The caps of the
 * node (connections, event streams per tenant, exports at once) count across the instances here, the sweepers run in
 * one of them, and the gauges add the instances up.
 */
public final class ApiNode {
  final ApiContext api;
  final StreamTokens tokens;
  final ConnectionGuard connections;
  /** Open event streams per tenant, over every instance of the node. */
  final Map<String, Integer> streamsPerTenant = new ConcurrentHashMap<>();
  final AtomicInteger exportsRunning = new AtomicInteger();
  final io.inferencejobs.jobs.JobService jobService;
  final List<EventStreams> streams = new CopyOnWriteArrayList<>();
  private final AtomicBoolean firstStarted = new AtomicBoolean();
  private volatile ApiVerticle first;
  private volatile int port = -1;

  public ApiNode(ApiContext api) {
    this.api = api;
    this.tokens = new StreamTokens(api.config().auth().tokenSecret(), api.config().auth().streamTokenSeconds());
    var http = api.config().http();
    this.connections = new ConnectionGuard(http.headerTimeoutSeconds(), http.maxConnections(),
        http.maxConnectionsPerAddress());
    this.jobService = JobHandlers.service(api);
  }

  /** A new instance of the node's API verticle (deploy as many as {@code http.eventLoops()}). */
  public ApiVerticle newVerticle() {
    return new ApiVerticle(this);
  }

  /** True for the one instance that runs the sweepers and registers the gauges. */
  boolean claimFirst(ApiVerticle verticle) {
    if (firstStarted.compareAndSet(false, true)) {
      first = verticle;
      return true;
    }
    return false;
  }

  void listening(int actualPort) {
    port = actualPort;
  }

  public int port() {
    return port;
  }

  /** Retention of ended jobs and unused uploads (null before the first instance started). */
  public RetentionSweeper retention() {
    return first == null ? null : first.retention();
  }

  /** Open event streams on this node, over every instance. */
  public int openStreams() {
    return streams.stream().mapToInt(EventStreams::openStreams).sum();
  }

  public int openConnections() {
    return connections.open();
  }
}
