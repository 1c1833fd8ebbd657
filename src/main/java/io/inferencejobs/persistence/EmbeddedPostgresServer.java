package io.inferencejobs.persistence;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** A real PostgreSQL 14 started in-process; its data directory survives restarts. Blocking: call off the event loop. */
public final class EmbeddedPostgresServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedPostgresServer.class);

  private final EmbeddedPostgres postgres;
  private final java.nio.channels.FileChannel lockChannel;

  private EmbeddedPostgresServer(EmbeddedPostgres postgres, java.nio.channels.FileChannel lockChannel) {
    this.postgres = postgres;
    this.lockChannel = lockChannel;
  }

  /**
   * Starts the server on {@code dataDir/postgres}. The process holds an exclusive lock on {@code postgres.lock} beside
   * it for as long as it runs (the operating system drops it when the process dies, {@code kill -9} included), so a
   * second process on the same directory is refused with a clear message; and a server found still running on a
   * directory whose lock was free was left by a process that died (PostgreSQL outlives a killed JVM, reparented): it is
   * stopped first, so that a restart comes up the first time.
   */
  public static EmbeddedPostgresServer start(Path dataDir, int port) throws IOException {
    Path pgData = dataDir.resolve("postgres");
    Files.createDirectories(pgData);
    java.nio.channels.FileChannel lock = lock(dataDir.resolve("postgres.lock"));
    try {
      stopOrphan(pgData);
      return new EmbeddedPostgresServer(run(dataDir, pgData, port), lock);
    } catch (IOException | RuntimeException e) {
      lock.close();
      throw e;
    }
  }

  private static java.nio.channels.FileChannel lock(Path file) throws IOException {
    java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(file,
        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
    java.nio.channels.FileLock held;
    try {
      held = channel.tryLock();
    } catch (java.nio.channels.OverlappingFileLockException e) {
      held = null;
    }
    if (held == null) {
      channel.close();
      throw new IllegalStateException("the embedded PostgreSQL in " + file.getParent().toAbsolutePath()
          + " (DATA_DIR) is in use by another running process; give each node its own data directory");
    }
    return channel;
  }

  private static EmbeddedPostgres run(Path dataDir, Path pgData, int port) throws IOException {
    long t0 = System.nanoTime();
    EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder();
    if (port > 0) {
      builder.setPort(port);
    }
    EmbeddedPostgres pg = builder
        .setDataDirectory(pgData)
        .setCleanDataDirectory(false)
        .setOverrideWorkingDirectory(dataDir.resolve("postgres-bin").toFile())
        .setPGStartupWait(Duration.ofSeconds(60))
        .setServerConfig("max_connections", "200")
        // the embedded server runs beside the service on one machine: a commit need not wait for its WAL flush
        // (a power cut may lose the last few hundred ms of commits, never consistency; a killed service loses none)
        .setServerConfig("synchronous_commit", "off")
        .setRegisterShutdownHook(true)
        .start();
    LOG.info("embedded PostgreSQL on 127.0.0.1:{} (data {}) in {} ms", pg.getPort(), pgData,
        (System.nanoTime() - t0) / 1_000_000);
    return pg;
  }

  /**
   * Stops the server named by {@code postmaster.pid}, if one still runs on this data directory: a fast shutdown
   * (SIGINT), then SIGKILL if it has not ended within 30 s. A stale file (no such process) is left to PostgreSQL.
   */
  static void stopOrphan(Path pgData) throws IOException {
    Path pidFile = pgData.resolve("postmaster.pid");
    if (!Files.isRegularFile(pidFile)) {
      return;
    }
    long pid;
    Path dir;
    try {
      java.util.List<String> lines = Files.readAllLines(pidFile);
      pid = Long.parseLong(lines.get(0).trim());
      dir = Path.of(lines.get(1).trim());
    } catch (RuntimeException e) {
      return; // not a pid file PostgreSQL would trust either
    }
    if (!Files.isDirectory(dir) || !Files.isSameFile(dir, pgData)) {
      return;
    }
    // the pid file names this directory; its process must be alive and, where the system says, a postgres
    var process = ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
        .filter(p -> p.info().command().map(c -> c.contains("postgres")).orElse(true));
    if (process.isEmpty()) {
      return;
    }
    LOG.warn("an embedded PostgreSQL (pid {}) left by a process that died still runs on {}: stopping it", pid, pgData);
    try {
      new ProcessBuilder("kill", "-INT", Long.toString(pid)).inheritIO().start().waitFor();
      if (!process.get().onExit().toCompletableFuture().completeOnTimeout(null, 30, java.util.concurrent.TimeUnit.SECONDS)
          .thenApply(p -> !process.get().isAlive()).join()) {
        process.get().destroyForcibly();
        process.get().onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while stopping the orphaned PostgreSQL " + pid, e);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new IOException("could not stop the orphaned PostgreSQL " + pid + " on " + pgData, e);
    }
  }

  public int port() {
    return postgres.getPort();
  }

  @Override
  public void close() throws IOException {
    try {
      postgres.close();
    } finally {
      lockChannel.close();
    }
  }
}
