package io.inferencejobs.app;

import io.inferencejobs.config.AppConfig;
import io.inferencejobs.storage.S3Storage;
import io.vertx.pgclient.PgException;

import java.net.ConnectException;

/**
 * Why a node could not start, in one line that names the dependency and the settings to look at; no stack trace
 * for what an operator can fix. Failures are told apart by type.
 */
final class StartupFailure extends RuntimeException {
  StartupFailure(String message, Throwable cause) {
    super(message, cause, false, false);
  }

  static StartupFailure postgres(AppConfig.PostgresConfig pg, int port, Throwable err) {
    String where = "PostgreSQL at " + (pg.embedded() ? "127.0.0.1:" + port + " (embedded)"
        : pg.host() + ":" + pg.port() + " (PG_HOST, PG_PORT)");
    Throwable t = root(err);
    if (t instanceof ConnectException) {
      return new StartupFailure(where + " refused the connection: " + t.getMessage(), err);
    }
    if (t instanceof PgException e && e.getSqlState() != null && e.getSqlState().startsWith("28")) {
      return new StartupFailure(where + " refused user '" + pg.user() + "' (PG_USER, PG_PASSWORD): "
          + e.getErrorMessage(), err);
    }
    if (t instanceof PgException e && "3D000".equals(e.getSqlState())) {
      return new StartupFailure(where + " has no database '" + pg.database() + "' (PG_DATABASE)", err);
    }
    if (t instanceof javax.net.ssl.SSLException) {
      return new StartupFailure(where + ": TLS failed (PG_SSL_MODE=" + pg.sslMode() + ", PG_SSL_ROOT_CERT): "
          + t.getMessage(), err);
    }
    String tls = pg.sslMode().equals("disable") ? "" : " (PG_SSL_MODE=" + pg.sslMode() + ")";
    return new StartupFailure(where + tls + ": " + (err.getMessage() == null ? t : err.getMessage()), err);
  }

  static StartupFailure s3(AppConfig.S3Config s3, String endpoint, Throwable err) {
    String where = "S3 endpoint " + endpoint + (s3.embedded() ? " (embedded)" : " (S3_ENDPOINT)");
    Throwable t = root(err);
    if (S3Storage.transientFault(err)) {
      return new StartupFailure(where + " could not be reached: " + t.getMessage(), err);
    }
    if (t instanceof software.amazon.awssdk.services.s3.model.S3Exception e && (e.statusCode() == 403
        || e.statusCode() == 401)) {
      return new StartupFailure(where + " refused the credentials ("
          + (s3.defaultCredentials() ? "the AWS default chain; or set S3_ACCESS_KEY, S3_SECRET_KEY" :
          "S3_ACCESS_KEY, S3_SECRET_KEY") + ") for bucket '" + s3.bucket() + "' (S3_BUCKET): " + t.getMessage(), err);
    }
    return new StartupFailure(where + ", bucket '" + s3.bucket() + "' (S3_BUCKET): " + t.getMessage(), err);
  }

  private static Throwable root(Throwable t) {
    Throwable r = t;
    for (int i = 0; i < 10 && r.getCause() != null && r.getCause() != r; i++) {
      if (r instanceof ConnectException || r instanceof PgException) {
        return r;
      }
      r = r.getCause();
    }
    return r;
  }
}
