package io.inferencejobs.it;

import io.inferencejobs.app.Node;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A service node in its own JVM, started from the built jar, stopped (or killed) by the test. Its PostgreSQL and S3
 * are those of the shared test service, configured as external servers, in a database and bucket of the test's own.
 */
final class NodeProcess implements AutoCloseable {
  final Process process;
  final Path log;

  private NodeProcess(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  /** Settings for nodes that share one fresh database and bucket on the shared test service's servers. */
  static Map<String, String> isolatedStore(String name) {
    Node shared = TestService.shared();
    String db = name + "_" + UUID.randomUUID().toString().substring(0, 8);
    Api.await(shared.pool().query("CREATE DATABASE " + db).execute());
    Map<String, String> env = new HashMap<>(TestService.settings(name));
    env.put("PG_HOST", "127.0.0.1");
    env.put("PG_PORT", Integer.toString(shared.postgresPort()));
    env.put("PG_DATABASE", db);
    env.put("PG_USER", shared.config().postgres().embedded() ? "postgres" : shared.config().postgres().user());
    env.put("PG_PASSWORD", shared.config().postgres().embedded() ? "postgres" : shared.config().postgres().password());
    env.put("S3_ENDPOINT", shared.s3Endpoint());
    env.put("S3_ACCESS_KEY", shared.config().s3().accessKey());
    env.put("S3_SECRET_KEY", shared.config().s3().secretKey());
    env.put("S3_BUCKET", db.replace('_', '-'));
    return env;
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** Starts a node and returns once it printed its ready line. */
  static NodeProcess start(String name, Map<String, String> env) throws Exception {
    Path dir = Files.createDirectories(Path.of(env.get("DATA_DIR")));
    Map<String, String> own = new HashMap<>(env);
    own.put("DATA_DIR", dir.resolve(name).toString());
    Path log = dir.resolve(name + ".log");
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx512m", "-jar", Path.of("target", "inference-jobs.jar").toAbsolutePath().toString(), "serve");
    pb.environment().putAll(own);
    pb.redirectErrorStream(true);
    Process process = pb.start();
    CompletableFuture<Void> ready = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream()));
           var out = Files.newBufferedWriter(log, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
        String line;
        while ((line = in.readLine()) != null) {
          out.write(line);
          out.newLine();
          out.flush();
          if (line.startsWith("inference-jobs ready")) {
            ready.complete(null);
          }
        }
        ready.completeExceptionally(new AssertionError("node " + name + " exited before it was ready; see " + log));
      } catch (Exception e) {
        ready.completeExceptionally(e);
      }
    }, "log-" + name);
    reader.setDaemon(true);
    reader.start();
    try {
      ready.get(120, TimeUnit.SECONDS);
    } catch (Exception e) {
      process.destroyForcibly();
      throw e;
    }
    return new NodeProcess(process, log);
  }

  /**
   * Runs {@code serve} from the built jar until it exits (for starts that must fail); returns its exit code and its
   * output. {@code env} replaces the process's environment entirely.
   */
  static Map.Entry<Integer, String> runToExit(Map<String, String> env) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx512m", "-jar", Path.of("target", "inference-jobs.jar").toAbsolutePath().toString(), "serve");
    pb.environment().clear();
    pb.environment().put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
    pb.environment().putAll(env);
    pb.redirectErrorStream(true);
    Process process = pb.start();
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
      try {
        return new String(process.getInputStream().readAllBytes());
      } catch (java.io.IOException e) {
        return e.toString();
      }
    });
    if (!process.waitFor(120, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("the node did not exit within 120 s: " + out.getNow(""));
    }
    return Map.entry(process.exitValue(), out.get(10, TimeUnit.SECONDS));
  }

  /** The TCP ports the process listens on, read from /proc (its socket inodes matched with the listening sockets). */
  java.util.Set<Integer> listeningPorts() throws Exception {
    java.util.Set<String> inodes = new java.util.HashSet<>();
    try (var fds = Files.list(Path.of("/proc", Long.toString(process.pid()), "fd"))) {
      for (Path fd : fds.toList()) {
        try {
          String target = Files.readSymbolicLink(fd).toString();
          if (target.startsWith("socket:[")) {
            inodes.add(target.substring(8, target.length() - 1));
          }
        } catch (java.io.IOException gone) {
          // closed meanwhile
        }
      }
    }
    java.util.Set<Integer> ports = new java.util.TreeSet<>();
    for (String table : java.util.List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      Path p = Path.of(table);
      if (!Files.exists(p)) {
        continue;
      }
      for (String line : Files.readAllLines(p)) {
        String[] f = line.trim().split("\\s+");
        // sl local_address rem_address st ... inode (field 9); st 0A is LISTEN
        if (f.length > 9 && f[3].equals("0A") && inodes.contains(f[9])) {
          ports.add(Integer.parseInt(f[1].substring(f[1].lastIndexOf(':') + 1), 16));
        }
      }
    }
    return ports;
  }

  /** SIGKILL: no shutdown hook, no hand-back; its leases must expire. */
  void kill() throws Exception {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws Exception {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        kill();
      }
    }
  }
}
