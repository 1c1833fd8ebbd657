package io.inferencejobs.it;

import io.inferencejobs.app.Node;
import io.inferencejobs.config.AppConfig;
import io.inferencejobs.config.ConfigLoader;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One real service per test JVM (embedded PostgreSQL and S3 unless IT_PG_HOST / IT_S3_ENDPOINT name external ones),
 * shared by the integration tests, stopped when the JVM exits.
 */
public final class TestService {
  public static final long MAX_UPLOAD_BYTES = 32L * 1024 * 1024;
  private static Node shared;

  private TestService() {
  }

  public static synchronized Node shared() {
    if (shared == null) {
      shared = start(settings("shared"));
      Node node = shared;
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        try {
          node.closeAsync().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        } catch (Exception ignored) {
          // exiting anyway
        }
      }));
    }
    return shared;
  }

  /** The settings a test node runs with: short leases and heartbeats so that tests need not wait long. */
  public static Map<String, String> settings(String name) {
    Map<String, String> env = new HashMap<>();
    try {
      Path dir = Path.of("target", "it-data");
      Files.createDirectories(dir);
      env.put("DATA_DIR", Files.createTempDirectory(dir, name + "-").toAbsolutePath().toString());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    env.put("HTTP_PORT", "0");
    // many nodes share this machine: every port of theirs is picked free
    env.put("MANAGEMENT_PORT", "0");
    env.put("CLUSTER_BUS_PORT", "0");
    env.put("WORKER_LEASE_SECONDS", "4");
    env.put("SSE_HEARTBEAT_SECONDS", "2");
    env.put("WORKER_CHUNK_SIZE", "16");
    env.put("ENGINE_THREADS", "2");
    env.put("MAX_UPLOAD_BYTES", Long.toString(MAX_UPLOAD_BYTES));
    env.put("MAX_FILES_PER_UPLOAD", "50");
    for (String external : new String[] {"PG_HOST", "PG_PORT", "PG_DATABASE", "PG_USER", "PG_PASSWORD", "S3_ENDPOINT",
        "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_REGION"}) {
      String v = System.getenv("IT_" + external);
      if (v != null) {
        env.put(external, v);
      }
    }
    return env;
  }

  /**
   * Starts two nodes at once (each spends most of its start waiting on its own PostgreSQL); if either fails, the one
   * that started is closed and the failure thrown.
   */
  public static Node[] startTogether(Map<String, String> first, Map<String, String> second) {
    io.vertx.core.Future<Node> a = Node.start(ConfigLoader.load(first));
    io.vertx.core.Future<Node> b = Node.start(ConfigLoader.load(second));
    try {
      io.vertx.core.Future.join(a, b).toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
    } catch (Exception e) {
      for (io.vertx.core.Future<Node> f : java.util.List.of(a, b)) {
        if (f.succeeded()) {
          f.result().closeAsync();
        }
      }
      throw new IllegalStateException("test services did not start", e);
    }
    if (a.failed() || b.failed()) {
      (a.succeeded() ? a : b).result().closeAsync();
      throw new IllegalStateException("a test service did not start", a.failed() ? a.cause() : b.cause());
    }
    return new Node[] {a.result(), b.result()};
  }

  public static Node start(Map<String, String> env) {
    AppConfig config = ConfigLoader.load(env);
    try {
      return Node.start(config).toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("test service did not start", e);
    }
  }
}
