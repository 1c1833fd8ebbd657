package io.inferencejobs.app;

import io.inferencejobs.config.AppConfig;
import io.inferencejobs.persistence.EmbeddedPostgresServer;
import io.inferencejobs.storage.EmbeddedS3Server;

import java.util.concurrent.CountDownLatch;

/**
 * {@code deps}: only the embedded PostgreSQL and S3 server, on the configured ports (PG_EMBEDDED_PORT,
 * S3_EMBEDDED_PORT), for local clusters whose nodes all point at one database and one object store.
 */
final class DepsCommand {
  private DepsCommand() {
  }

  static int run(String[] args) {
    AppConfig config = ServeCommand.loadOrReport();
    if (config == null) {
      return 2;
    }
    try {
      EmbeddedPostgresServer pg = EmbeddedPostgresServer.start(config.dataDir(), config.postgres().embeddedPort());
      EmbeddedS3Server s3 = EmbeddedS3Server.start(config.dataDir(), config.s3().embeddedPort(),
          config.s3().accessKey(), config.s3().secretKey());
      CountDownLatch stop = new CountDownLatch(1);
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        try {
          s3.close();
          pg.close();
        } catch (Exception ignored) {
          // exiting
        }
        stop.countDown();
      }));
      System.out.println("deps ready: PG_HOST=127.0.0.1 PG_PORT=" + pg.port() + " PG_DATABASE=postgres PG_USER=postgres "
          + "PG_PASSWORD=postgres S3_ENDPOINT=" + s3.endpoint() + " S3_ACCESS_KEY=" + config.s3().accessKey()
          + " S3_SECRET_KEY=" + config.s3().secretKey());
      stop.await();
      return 0;
    } catch (Exception e) {
      System.err.println("deps failed: " + e.getMessage());
      return 1;
    }
  }
}
