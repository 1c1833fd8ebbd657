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

  private EmbeddedPostgresServer(EmbeddedPostgres postgres) {
    this.postgres = postgres;
  }

  public static EmbeddedPostgresServer start(Path dataDir, int port) throws IOException {
    Path pgData = dataDir.resolve("postgres");
    Files.createDirectories(pgData);
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
    return new EmbeddedPostgresServer(pg);
  }

  public int port() {
    return postgres.getPort();
  }

  @Override
  public void close() throws IOException {
    postgres.close();
  }
}
