package io.inferencejobs.persistence;

import io.inferencejobs.config.AppConfig.PostgresConfig;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;

/** Builds the shared PostgreSQL pool. */
public final class Database {
  private Database() {
  }

  /** {@code embeddedPort} is used when the configuration names no external host. */
  public static Pool pool(Vertx vertx, PostgresConfig config, int embeddedPort) {
    PgConnectOptions connect = config.embedded()
        ? new PgConnectOptions().setHost("127.0.0.1").setPort(embeddedPort).setDatabase("postgres")
            .setUser("postgres").setPassword("postgres")
        : new PgConnectOptions().setHost(config.host()).setPort(config.port()).setDatabase(config.database())
            .setUser(config.user()).setPassword(config.password());
    connect.setCachePreparedStatements(true).setPipeliningLimit(16);
    PoolOptions pool = new PoolOptions().setMaxSize(config.poolSize()).setName("pg-pool").setShared(true)
        .setMaxWaitQueueSize(1024);
    return PgBuilder.pool().with(pool).connectingTo(connect).using(vertx).build();
  }
}
