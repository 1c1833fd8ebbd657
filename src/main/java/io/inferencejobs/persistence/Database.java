package io.inferencejobs.persistence;

import io.inferencejobs.config.AppConfig.PostgresConfig;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.core.net.ClientSSLOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.SslMode;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;

/** Builds the shared PostgreSQL pool. */
public final class Database {
  private Database() {
  }

  /**
   * TLS to an external PostgreSQL, as libpq's {@code sslmode} says: {@code verify-ca} and {@code verify-full} check
   * the server's certificate against {@code postgres.ssl_root_cert} (or the JVM's trust store), {@code verify-full}
   * also its host name.
   */
  static void tls(PgConnectOptions connect, PostgresConfig config) {
    SslMode mode = SslMode.valueOf(config.sslMode().toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
    connect.setSslMode(mode);
    if (mode == SslMode.DISABLE) {
      return;
    }
    ClientSSLOptions ssl = new ClientSSLOptions()
        .setHostnameVerificationAlgorithm(mode == SslMode.VERIFY_FULL ? "HTTPS" : "")
        .setTrustAll(mode == SslMode.PREFER || mode == SslMode.REQUIRE);
    if (!config.sslRootCert().isEmpty()) {
      ssl.setTrustOptions(new PemTrustOptions().addCertPath(config.sslRootCert()));
    }
    connect.setSslOptions(ssl);
  }

  /** {@code embeddedPort} is used when the configuration names no external host. */
  public static Pool pool(Vertx vertx, PostgresConfig config, int embeddedPort) {
    return pool(vertx, config, embeddedPort, "pg-pool", config.poolSize());
  }

  /** A pool of {@code size} connections under its own {@code name}, to the same database. */
  public static Pool pool(Vertx vertx, PostgresConfig config, int embeddedPort, String name, int size) {
    PgConnectOptions connect = config.embedded()
        ? new PgConnectOptions().setHost("127.0.0.1").setPort(embeddedPort).setDatabase("postgres")
            .setUser("postgres").setPassword("postgres")
        : new PgConnectOptions().setHost(config.host()).setPort(config.port()).setDatabase(config.database())
            .setUser(config.user()).setPassword(config.password());
    connect.setCachePreparedStatements(true).setPipeliningLimit(16);
    if (!config.embedded()) {
      tls(connect, config);
    }
    PoolOptions pool = new PoolOptions().setMaxSize(size).setName(name).setShared(true)
        .setMaxWaitQueueSize(1024);
    return PgBuilder.pool().with(pool).connectingTo(connect).using(vertx).build();
  }
}
