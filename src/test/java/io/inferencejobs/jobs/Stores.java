package io.inferencejobs.jobs;

import io.inferencejobs.config.AppConfig;
import io.inferencejobs.config.ConfigLoader;
import io.inferencejobs.persistence.Database;
import io.inferencejobs.persistence.EmbeddedPostgresServer;
import io.inferencejobs.persistence.Migrations;
import io.inferencejobs.storage.EmbeddedS3Server;
import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.support.BoundedExecutor;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real PostgreSQL and a real S3 server for the in-process tests of the application layer: started once per test JVM
 * (a few seconds), migrated, and stopped when it exits. No node, no HTTP: the tests call services and repositories.
 */
final class Stores {
  private static Stores instance;

  final Vertx vertx;
  final AppConfig config;
  final Pool pool;
  final S3Storage storage;

  private Stores(Vertx vertx, AppConfig config, Pool pool, S3Storage storage) {
    this.vertx = vertx;
    this.config = config;
    this.pool = pool;
    this.storage = storage;
  }

  static synchronized Stores get() {
    if (instance == null) {
      try {
        instance = start();
      } catch (Exception e) {
        throw new IllegalStateException("the test stores did not start", e);
      }
    }
    return instance;
  }

  private static Stores start() throws Exception {
    Path dir = Files.createTempDirectory(Files.createDirectories(Path.of("target", "unit-stores")), "stores-");
    EmbeddedPostgresServer pg = EmbeddedPostgresServer.start(dir, 0);
    EmbeddedS3Server s3 = EmbeddedS3Server.start(dir, 0, "inference-jobs", "inference-jobs-secret");
    AppConfig config = ConfigLoader.load(Map.of("DATA_DIR", dir.toString(), "S3_SHARED_INPUTS",
        "s3://inference-jobs/shared/", "WORKER_CHUNK_SIZE", "2", "MAX_ACTIVE_JOBS_PER_TENANT", "3"));
    Vertx vertx = Vertx.vertx();
    Pool pool = Database.pool(vertx, config.postgres(), pg.port());
    S3Storage storage = new S3Storage(config.s3(), s3.endpoint(), new BoundedExecutor(vertx, "test-s3", 4, 64));
    Future.all(Migrations.apply(pool), storage.ensureBucket(config.s3().bucket()))
        .await(60, TimeUnit.SECONDS);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        vertx.close().await(30, TimeUnit.SECONDS);
        s3.close();
        pg.close();
      } catch (Exception ignored) {
        // exiting anyway
      }
    }));
    return new Stores(vertx, config, pool, storage);
  }

  static <T> T await(Future<T> f) {
    try {
      return f.await(60, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("no answer within 60 s", e);
    }
  }
}
