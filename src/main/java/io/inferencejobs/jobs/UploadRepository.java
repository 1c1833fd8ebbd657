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

  /** Stores the session and all its files in one transaction. */
  public Future<Void> create(UUID sessionId, long trainingJobId, String s3Prefix, List<StoredFile> files) {
    List<Tuple> rows = new ArrayList<>();
    for (int i = 0; i < files.size(); i++) {
      StoredFile f = files.get(i);
      rows.add(Tuple.of(sessionId, i, f.originalFilename(), f.uniqueFilename(), f.s3Uri(), f.sizeBytes(),
          f.contentType()));
    }
    return pool.withTransaction(conn -> conn.preparedQuery(
            "INSERT INTO upload_sessions (id, training_job_id, s3_prefix) VALUES ($1, $2, $3)")
        .execute(Tuple.of(sessionId, trainingJobId, s3Prefix))
        .compose(r -> conn.preparedQuery("""
                INSERT INTO uploaded_files (session_id, file_index, original_filename, unique_filename, s3_uri,
                                            size_bytes, content_type) VALUES ($1, $2, $3, $4, $5, $6, $7)""")
            .executeBatch(rows))
        .mapEmpty());
  }

  /** The original names of uploaded files among {@code uris} (uploads keep the name the user knows). */
  public Future<java.util.Map<String, String>> originalNames(List<String> uris) {
    return pool.preparedQuery("SELECT s3_uri, original_filename FROM uploaded_files WHERE s3_uri = ANY($1)")
        .execute(Tuple.of(uris.toArray(String[]::new)))
        .map(rows -> {
          java.util.Map<String, String> names = new java.util.HashMap<>();
          rows.forEach(r -> names.put(r.getString("s3_uri"), r.getString("original_filename")));
          return names;
        });
  }

  /** The files of a session in upload order; empty when the session does not exist. */
  public Future<List<ImageRef>> files(UUID sessionId) {
    return pool.preparedQuery("""
            SELECT file_index, s3_uri, original_filename FROM uploaded_files WHERE session_id = $1 ORDER BY file_index""")
        .execute(Tuple.of(sessionId))
        .map(rows -> {
          List<ImageRef> refs = new ArrayList<>();
          for (Row r : rows) {
            refs.add(new ImageRef(r.getInteger("file_index"), r.getString("s3_uri"), r.getString("original_filename")));
          }
          return refs;
        });
  }
}
