package io.inferencejobs.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** The service started as a separate JVM from this jar, so that load comes from another process on loopback. */
final class ServiceProcess implements AutoCloseable {
  final Process process;
  final int port;
  final Path dataDir;

  private ServiceProcess(Process process, int port, Path dataDir) {
    this.process = process;
    this.port = port;
    this.dataDir = dataDir;
  }

  static ServiceProcess start(String heap, Map<String, String> env) throws Exception {
    return start(heap, env, "serve", "inference-jobs ready at");
  }

  /** Starts {@code command} (serve, deps) and waits for the line starting with {@code readyPrefix}. */
  static ServiceProcess start(String heap, Map<String, String> env, String command, String readyPrefix)
      throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path dataDir = Files.createTempDirectory("inference-jobs-bench-");
    // the service's own jar (the benchmarks' jar only points at it), or the build's classes
    Path jar = Path.of(io.inferencejobs.app.Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx" + heap));
    if (Files.isDirectory(jar)) {
      // run from the build's classes (development): same classpath as this process
      cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.inferencejobs.app.Main", command));
    } else {
      cmd.addAll(List.of("-jar", jar.toString(), command));
    }
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("HTTP_PORT", Integer.toString(port));
    pb.environment().put("DATA_DIR", dataDir.toString());
    pb.environment().put("LOG_LEVEL", "WARN");
    // benchmarks start several nodes on one machine: their other ports are picked free
    pb.environment().put("MANAGEMENT_PORT", "0");
    pb.environment().put("CLUSTER_BUS_PORT", "0");
    pb.environment().putAll(env);
    Process p = pb.start();
    CompletableFuture<Void> ready = new CompletableFuture<>();
    Path log = dataDir.resolve("service.log");
    Thread t = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream()));
           var out = Files.newBufferedWriter(log)) {
        String line;
        while ((line = in.readLine()) != null) {
          out.write(line);
          out.newLine();
          out.flush();
          if (line.startsWith(readyPrefix)) {
            ready.complete(null);
          }
        }
        ready.completeExceptionally(new IllegalStateException("service exited; see " + log));
      } catch (IOException e) {
        ready.completeExceptionally(e);
      }
    }, "service-log");
    t.setDaemon(true);
    t.start();
    ready.get(120, TimeUnit.SECONDS);
    return new ServiceProcess(p, port, dataDir);
  }

  /** Peak resident set size of the service process so far (VmHWM), in MiB. */
  double peakRssMiB() {
    return procStatus("VmHWM:");
  }

  double rssMiB() {
    return procStatus("VmRSS:");
  }

  private double procStatus(String key) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
        if (line.startsWith(key)) {
          return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
        }
      }
    } catch (IOException e) {
      return -1;
    }
    return -1;
  }

  /** CPU seconds used by the service process so far (utime + stime). */
  double cpuSeconds() {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(process.pid()), "stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
    } catch (IOException e) {
      return -1;
    }
  }

  @Override
  public void close() throws Exception {
    process.destroy();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
    // its embedded PostgreSQL and S3 data: hundreds of MB per run, left behind otherwise
    try (var paths = Files.walk(dataDir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException e) {
      System.err.println("could not remove " + dataDir + ": " + e.getMessage());
    }
  }
}
