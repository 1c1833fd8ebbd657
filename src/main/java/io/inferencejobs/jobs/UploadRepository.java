package io.inferencejobs.jobs;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** Upload sessions and their files (with the original file names). */
public final class UploadRepository {
  private final Pool pool;

  public UploadRepository(Pool pool) {
    this.pool = pool;
  }

  /** One stored file: JSON as the upload API returns it. */
  public record StoredFile(String originalFilename, String uniqueFilename, String s3Uri, long sizeBytes,
                           String contentType) {
    public JsonObject toJson() {
      return new JsonObject().put("original_filename", originalFilename).put("unique_filename", uniqueFilename)
          .put("s3_uri", s3Uri).put("size_bytes", sizeBytes).put("content_type", contentType);
    }
  }

  /**
   * Records a session before any of its objects is written: pending, with the time after which the sweeper may
   * remove its objects if it never commits (the node died, or the request failed and its clean-up did too).
   */
  public Future<Void> begin(UUID sessionId, String tenant, long trainingJobId, String s3Prefix, int sweepAfterSeconds) {
    return pool.preparedQuery("""
            INSERT INTO upload_sessions (id, training_job_id, s3_prefix, tenant, state, sweep_after)
            VALUES ($1, $2, $3, $4, 'pending', now() + make_interval(secs => $5))""")
        .execute(Tuple.of(sessionId, trainingJobId, s3Prefix, tenant, (double) sweepAfterSeconds)).mapEmpty();
  }

  /** The session was swept (or removed) before it could commit: its objects are gone. */
  public static final class SessionGone extends RuntimeException {
    public SessionGone(UUID session) {
      super("upload session " + session + " was removed before it committed", null, false, false);
    }
  }

  /** Stores the files and commits the session, in one transaction; fails with {@link SessionGone} if it was swept. */
  public Future<Void> commit(UUID sessionId, List<StoredFile> files) {
    List<Tuple> rows = new ArrayList<>();
    for (int i = 0; i < files.size(); i++) {
      StoredFile f = files.get(i);
      rows.add(Tuple.of(sessionId, i, f.originalFilename(), f.uniqueFilename(), f.s3Uri(), f.sizeBytes(),
          f.contentType()));
    }
    return pool.withTransaction(conn -> conn.preparedQuery("""
            UPDATE upload_sessions SET state = 'committed', sweep_after = NULL WHERE id = $1 AND state = 'pending'""")
        .execute(Tuple.of(sessionId))
        .compose(r -> r.rowCount() == 1 ? conn.preparedQuery("""
                INSERT INTO uploaded_files (session_id, file_index, original_filename, unique_filename, s3_uri,
                                            size_bytes, content_type) VALUES ($1, $2, $3, $4, $5, $6, $7)""")
            .executeBatch(rows) : Future.failedFuture(new SessionGone(sessionId)))
        .mapEmpty());
  }

  /**
   * Forgets up to {@code limit} committed sessions older than {@code days} days whose files no job uses (retention),
   * and returns the S3 URIs of their files, to be removed.
   */
  public Future<List<String>> forgetUnused(int days, int limit) {
    return pool.withTransaction(conn -> conn.preparedQuery("""
            WITH gone AS (
              DELETE FROM upload_sessions s WHERE s.id IN (
                SELECT u.id FROM upload_sessions u WHERE u.state = 'committed'
                  AND u.created_at < now() - make_interval(days => $1)
                  AND NOT EXISTS (SELECT 1 FROM uploaded_files f JOIN job_images i ON i.s3_uri = f.s3_uri
                                  WHERE f.session_id = u.id)
                ORDER BY u.created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
              RETURNING s.id)
            SELECT f.s3_uri FROM uploaded_files f JOIN gone g ON g.id = f.session_id""")
        .execute(Tuple.of(days, limit))
        .map(rows -> {
          List<String> uris = new ArrayList<>();
          rows.forEach(r -> uris.add(r.getString("s3_uri")));
          return uris;
        }));
  }

  /** Forgets a session that did not commit (its objects were removed). */
  public Future<Void> abandon(UUID sessionId) {
    return pool.preparedQuery("DELETE FROM upload_sessions WHERE id = $1 AND state = 'pending'")
        .execute(Tuple.of(sessionId)).mapEmpty();
  }

  /** A pending session past its sweep time, claimed by one sweeper (for {@code leaseSeconds}). */
  public record Stale(UUID id, String s3Prefix) {
  }

  /** Claims up to {@code limit} stale sessions; another node's sweeper skips them while the claim lasts. */
  public Future<List<Stale>> claimStale(int limit, int leaseSeconds) {
    return pool.preparedQuery("""
            UPDATE upload_sessions SET sweep_after = now() + make_interval(secs => $2)
            WHERE id IN (SELECT id FROM upload_sessions WHERE state = 'pending' AND sweep_after < now()
                         ORDER BY sweep_after LIMIT $1 FOR UPDATE SKIP LOCKED)
            RETURNING id, s3_prefix""")
        .execute(Tuple.of(limit, (double) leaseSeconds))
        .map(rows -> {
          List<Stale> out = new ArrayList<>();
          rows.forEach(r -> out.add(new Stale(r.getUUID("id"), r.getString("s3_prefix"))));
          return out;
        });
  }

  /**
   * Which of {@code uris} are files of committed sessions the tenant may see (an image source a non-admin key may
   * use).
   */
  public Future<java.util.Set<String>> visibleFiles(TenantFilter tenant, List<String> uris) {
    return pool.preparedQuery("""
            SELECT f.s3_uri FROM uploaded_files f JOIN upload_sessions s ON s.id = f.session_id
            WHERE f.s3_uri = ANY($1) AND s.state = 'committed' AND ($2::boolean OR s.tenant = $3)""")
        .execute(Tuple.of(uris.toArray(String[]::new), tenant.all(), tenant.tenant()))
        .map(rows -> {
          java.util.Set<String> out = new java.util.HashSet<>();
          rows.forEach(r -> out.add(r.getString("s3_uri")));
          return out;
        });
  }

  /** Whether the session exists, has committed and belongs to a tenant the caller may see. */
  public Future<Boolean> visibleSession(TenantFilter tenant, UUID sessionId) {
    return pool.preparedQuery("""
            SELECT 1 FROM upload_sessions WHERE id = $1 AND state = 'committed' AND ($2::boolean OR tenant = $3)""")
        .execute(Tuple.of(sessionId, tenant.all(), tenant.tenant())).map(rows -> rows.size() > 0);
  }

  /**
   * The original names of uploaded files among {@code uris}, of the sessions the tenant may see (uploads keep the
   * name the user knows).
   */
  public Future<java.util.Map<String, String>> originalNames(TenantFilter tenant, List<String> uris) {
    return pool.preparedQuery("""
            SELECT f.s3_uri, f.original_filename FROM uploaded_files f JOIN upload_sessions s ON s.id = f.session_id
            WHERE f.s3_uri = ANY($1) AND ($2::boolean OR s.tenant = $3)""")
        .execute(Tuple.of(uris.toArray(String[]::new), tenant.all(), tenant.tenant()))
        .map(rows -> {
          java.util.Map<String, String> names = new java.util.HashMap<>();
          rows.forEach(r -> names.put(r.getString("s3_uri"), r.getString("original_filename")));
          return names;
        });
  }

  /**
   * The files of a committed session in upload order; empty when the session does not exist, has not committed, or
   * belongs to a tenant the caller may not see.
   */
  public Future<List<ImageRef>> files(TenantFilter tenant, UUID sessionId) {
    return pool.preparedQuery("""
            SELECT f.file_index, f.s3_uri, f.original_filename FROM uploaded_files f
            JOIN upload_sessions s ON s.id = f.session_id
            WHERE f.session_id = $1 AND s.state = 'committed' AND ($2::boolean OR s.tenant = $3)
            ORDER BY f.file_index""")
        .execute(Tuple.of(sessionId, tenant.all(), tenant.tenant()))
        .map(rows -> {
          List<ImageRef> refs = new ArrayList<>();
          for (Row r : rows) {
            refs.add(new ImageRef(r.getInteger("file_index"), r.getString("s3_uri"), r.getString("original_filename")));
          }
          return refs;
        });
  }
}
