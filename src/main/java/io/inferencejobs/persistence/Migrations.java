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
      "V5__checkpoint_info.sql");

  private Migrations() {
  }

  public static Future<Integer> apply(Pool pool) {
    return pool.getConnection().compose(conn -> conn.query("SET client_min_messages TO warning").execute()
        .compose(v -> conn.query("SELECT pg_advisory_lock(" + LOCK_KEY + ")").execute())
        .compose(v -> conn.query("CREATE TABLE IF NOT EXISTS schema_version (version INT PRIMARY KEY, "
            + "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())").execute())
        .compose(v -> conn.query("SELECT coalesce(max(version), 0) AS v FROM schema_version").execute())
        .compose(rows -> applyFrom(conn, rows.iterator().next().getInteger("v")))
        .eventually(() -> conn.query("SELECT pg_advisory_unlock(" + LOCK_KEY + ")").execute()
            .eventually(conn::close)));
  }

  private static Future<Integer> applyFrom(SqlConnection conn, int current) {
    List<String> pending = new ArrayList<>();
    for (int i = current; i < FILES.size(); i++) {
      pending.add(FILES.get(i));
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
