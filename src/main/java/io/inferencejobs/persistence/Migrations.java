package io.inferencejobs.persistence;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Applies the versioned SQL files {@code db/migration/V<n>__*.sql} in order, once each, under an advisory lock so that
 * several nodes starting together do not race.
 */
public final class Migrations {
  private static final Logger LOG = LoggerFactory.getLogger(Migrations.class);
  private static final long LOCK_KEY = 0x1f_e7_3b_01L;
  /** The versions that exist; a new migration file is added here and in the folder. */
  static final List<String> FILES = List.of("V1__init.sql", "V2__job_owner.sql", "V3__tenants.sql", "V4__chunk_retries.sql",
      "V5__checkpoint_info.sql", "V6__worker_degraded.sql",
      "V7__export_data.sql", "V8__task_types.sql", "V9__classifications.sql",
      "V10__progress_at.sql");

  private Migrations() {
  }

  /** The oldest PostgreSQL the service supports (13: what the SQL and the tests rely on). */
  static final int MIN_SERVER_VERSION = 130000;

  /** The server or its user cannot run the service: too old, or without the privileges pending migrations need. */
  public static final class Refused extends RuntimeException {
    Refused(String message) {
      super(message, null, false, false);
    }
  }

  /** The server's version and what the connected user may do, read before any migration. */
  private record Server(String user, boolean canCreate) {
  }

  public static Future<Integer> apply(Pool pool) {
    return pool.getConnection().compose(conn -> conn.query("SET client_min_messages TO warning").execute()
        .compose(v -> conn.query("SELECT current_setting('server_version_num')::int AS v, "
            + "current_setting('server_version') AS name, current_user AS who, "
            + "has_schema_privilege(current_user, 'public', 'CREATE') AS can_create").execute())
        .compose(rows -> {
          var r = rows.iterator().next();
          if (r.getInteger("v") < MIN_SERVER_VERSION) {
            return Future.<Server>failedFuture(new Refused("PostgreSQL " + r.getString("name") + " is older than "
                + "13, the oldest this service supports"));
          }
          return Future.succeededFuture(new Server(r.getString("who"), r.getBoolean("can_create")));
        })
        .compose(server -> conn.query("SELECT pg_advisory_lock(" + LOCK_KEY + ")").execute()
            // created only when missing: a user without CREATE (the schema already migrated) must get past here
            .compose(v -> conn.query("SELECT to_regclass('schema_version') IS NOT NULL AS present").execute())
            .compose(rows -> rows.iterator().next().getBoolean("present") ? Future.<Void>succeededFuture()
                : !server.canCreate() ? Future.failedFuture(refused(server, FILES))
                : conn.query("CREATE TABLE schema_version (version INT PRIMARY KEY, name TEXT NOT NULL, "
                    + "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())").execute().<Void>mapEmpty())
            .compose(v -> conn.query("SELECT coalesce(max(version), 0) AS v FROM schema_version").execute())
            .compose(rows -> applyFrom(conn, server, rows.iterator().next().getInteger("v")))
            .eventually(() -> conn.query("SELECT pg_advisory_unlock(" + LOCK_KEY + ")").execute()))
        .eventually(conn::close));
  }

  private static Refused refused(Server server, List<String> pending) {
    return new Refused("PostgreSQL user '" + server.user() + "' (PG_USER) may not create tables in schema public, "
        + "which the pending migrations " + pending + " need: GRANT CREATE ON SCHEMA public TO " + server.user()
        + ", or apply them once as a user who may");
  }

  private static Future<Integer> applyFrom(SqlConnection conn, Server server, int current) {
    List<String> pending = new ArrayList<>();
    for (int i = current; i < FILES.size(); i++) {
      pending.add(FILES.get(i));
    }
    if (!pending.isEmpty() && !server.canCreate()) {
      return Future.failedFuture(refused(server, pending));
    }
    Future<Integer> chain = Future.succeededFuture(current);
    for (String file : pending) {
      int version = Integer.parseInt(file.substring(1, file.indexOf("__")));
      String sql = read(file);
      chain = chain.compose(v -> conn.begin()
          .compose(tx -> conn.query(sql).execute()
              .compose(r -> conn.preparedQuery("INSERT INTO schema_version (version, name) VALUES ($1, $2)")
                  .execute(Tuple.of(version, file)))
              .compose(r -> tx.commit())
              .recover(err -> tx.rollback().transform(x -> Future.failedFuture(
                  new IllegalStateException("migration " + file + " failed: " + err.getMessage(), err)))))
          .map(r -> {
            LOG.info("applied migration {}", file);
            return version;
          }));
    }
    return chain;
  }

  private static String read(String file) {
    try (InputStream in = Migrations.class.getResourceAsStream("/db/migration/" + file)) {
      if (in == null) {
        throw new IllegalStateException("missing migration resource " + file);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
