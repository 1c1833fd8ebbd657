package io.inferencejobs.bench;

import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;

import java.net.ServerSocket;
import java.util.HashMap;
import java.util.Map;

/**
 * The PostgreSQL and S3 of a benchmark, run by the service's {@code deps} command in a JVM of their own: free ports
 * for them, the settings a node needs to use them, and a small pool for the benchmark's own queries.
 */
final class BenchDb implements AutoCloseable {
  final Vertx vertx = Vertx.vertx();
  final Pool pool;

  BenchDb(int pgPort) {
    this(pgPort, 2);
  }

  private final PgConnectOptions connect;

  BenchDb(int pgPort, int poolSize) {
    connect = new PgConnectOptions().setHost("127.0.0.1").setPort(pgPort).setDatabase("postgres")
        .setUser("postgres").setPassword("postgres");
    pool = newPool(poolSize);
  }

  /** Another pool to the same database, on the same Vert.x; the caller closes it. */
  Pool newPool(int size) {
    return PgBuilder.pool().with(new PoolOptions().setMaxSize(size)).connectingTo(connect).using(vertx).build();
  }

  RowSet<Row> query(String sql, Tuple t) {
    return Http.await(pool.preparedQuery(sql).execute(t));
  }

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** Starts the deps process on these ports. */
  static ServiceProcess startDeps(int pgPort, int s3Port) throws Exception {
    return ServiceProcess.start("256m", Map.of("PG_EMBEDDED_PORT", Integer.toString(pgPort),
        "S3_EMBEDDED_PORT", Integer.toString(s3Port)), "deps", "deps ready");
  }

  /** What a node needs to use the deps process's PostgreSQL and S3. */
  static Map<String, String> nodeSettings(int pgPort, int s3Port) {
    Map<String, String> env = new HashMap<>();
    env.put("PG_HOST", "127.0.0.1");
    env.put("PG_PORT", Integer.toString(pgPort));
    env.put("PG_DATABASE", "postgres");
    env.put("PG_USER", "postgres");
    env.put("PG_PASSWORD", "postgres");
    env.put("S3_ENDPOINT", "http://127.0.0.1:" + s3Port);
    env.put("S3_ACCESS_KEY", "inference-jobs");
    env.put("S3_SECRET_KEY", "inference-jobs-secret");
    return env;
  }

  @Override
  public void close() {
    Http.await(pool.close());
    Http.await(vertx.close());
  }
}
