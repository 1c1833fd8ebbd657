package io.inferencejobs.jobs;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The work units of jobs and their leases: who holds a chunk, until when, how often it was tried, and when a chunk that
 * failed may be tried again.
 */
public final class ChunkRepository {
  private final Pool pool;

  public ChunkRepository(Pool pool) {
    this.pool = pool;
    this.leases = new GroupQueue<>((seconds, workers) -> leaseFor(workers, seconds), w -> 1, MAX_LEASES_PER_STATEMENT);
  }

  /**
   * Leases the oldest open chunk of a live job: pending (and past its backoff), or leased with an expired lease.
   * Empty when none. Leases asked for at once on this node go together: one statement leases a chunk for each of
   * them (see {@link GroupQueue}); one asked for alone is leased at once.
   */
  public Future<Optional<ChunkLease>> lease(String workerId, int leaseSeconds) {
    return leases.submit(leaseSeconds, workerId);
  }

  /** Most leases one statement takes. */
  static final int MAX_LEASES_PER_STATEMENT = 64;

  private final GroupQueue<Integer, String, Optional<ChunkLease>> leases;

  /** Leases a chunk for each worker of {@code workerIds}, in order; empty for those past the open chunks. */
  private Future<List<Optional<ChunkLease>>> leaseFor(List<String> workerIds, int leaseSeconds) {
    return pool.preparedQuery("""
            WITH pick AS (SELECT c2.job_id, c2.chunk_index FROM job_chunks c2 JOIN inference_jobs j ON j.id = c2.job_id
                          WHERE j.status IN ('pending', 'running')
                            AND ((c2.state = 'pending' AND (c2.not_before IS NULL OR c2.not_before <= now()))
                                 OR (c2.state = 'leased' AND c2.lease_expires_at < now()))
                          ORDER BY c2.job_id, c2.chunk_index LIMIT cardinality($1::text[])
                          FOR UPDATE OF c2 SKIP LOCKED),
            numbered AS (SELECT job_id, chunk_index, row_number() OVER (ORDER BY job_id, chunk_index) AS n FROM pick),
            owners AS (SELECT o.w, o.n FROM unnest($1::text[]) WITH ORDINALITY AS o(w, n))
            UPDATE job_chunks c SET state = 'leased', lease_owner = owners.w,
                   lease_expires_at = now() + make_interval(secs => $2), attempts = c.attempts + 1, not_before = NULL
            FROM numbered JOIN owners ON owners.n = numbered.n
            WHERE c.job_id = numbered.job_id AND c.chunk_index = numbered.chunk_index
            RETURNING owners.n, c.job_id, c.chunk_index, c.first_index, c.end_index, c.attempts, c.last_error""")
        .execute(Tuple.of(workerIds.toArray(String[]::new), (double) leaseSeconds))
        .map(rows -> {
          List<Optional<ChunkLease>> out = new ArrayList<>(java.util.Collections.nCopies(workerIds.size(),
              Optional.<ChunkLease>empty()));
          for (Row r : rows) {
            out.set(r.getLong("n").intValue() - 1, Optional.of(new ChunkLease(r.getLong("job_id"),
                r.getInteger("chunk_index"), r.getInteger("first_index"), r.getInteger("end_index"),
                r.getInteger("attempts"), r.getString("last_error"))));
          }
          return out;
        });
  }

  /**
   * Extends the leases of the chunks the worker is working on now, and only those: a chunk it failed to hand back
   * (the database was down just then) expires and is leased again. Returns how many it extended.
   */
  public Future<Integer> extend(String workerId, List<ChunkLease> working, int leaseSeconds) {
    if (working.isEmpty()) {
      return Future.succeededFuture(0);
    }
    Long[] jobs = working.stream().map(ChunkLease::jobId).toArray(Long[]::new);
    Integer[] chunks = working.stream().map(ChunkLease::chunkIndex).toArray(Integer[]::new);
    return pool.preparedQuery("""
            UPDATE job_chunks c SET lease_expires_at = now() + make_interval(secs => $2)
            FROM unnest($3::bigint[], $4::int[]) AS w(job_id, chunk_index)
            WHERE c.job_id = w.job_id AND c.chunk_index = w.chunk_index AND c.lease_owner = $1 AND c.state = 'leased'""")
        .execute(Tuple.of(workerId, (double) leaseSeconds, jobs, chunks)).map(RowSet::rowCount);
  }

  /**
   * Hands a chunk that failed on a transient fault back, to be leased again (by any worker) after {@code backoffMs},
   * keeping the cause. Only the worker that holds the lease can.
   */
  public Future<Boolean> retryLater(ChunkLease lease, String workerId, long backoffMs, String error) {
    return pool.preparedQuery("""
            UPDATE job_chunks SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL,
                   not_before = now() + make_interval(secs => $4), last_error = $5
            WHERE job_id = $1 AND chunk_index = $2 AND lease_owner = $3 AND state = 'leased'""")
        .execute(Tuple.of(lease.jobId(), lease.chunkIndex(), workerId, backoffMs / 1000.0, error))
        .map(rows -> rows.rowCount() == 1);
  }

  /** Hands back a worker's chunks (graceful shutdown), or every lease when {@code workerId} is null. */
  public Future<Integer> releaseLeases(String workerId) {
    return pool.preparedQuery("""
            UPDATE job_chunks SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL
            WHERE state = 'leased' AND ($1::text IS NULL OR lease_owner = $1)""")
        .execute(Tuple.of(workerId)).map(RowSet::rowCount);
  }

  /** The images of a chunk that have no result yet (a re-leased chunk skips what was already done). */
  public Future<List<ImageRef>> pendingImages(ChunkLease lease) {
    return pool.preparedQuery("""
            SELECT i.image_index, i.s3_uri, i.image_name FROM job_images i
            WHERE i.job_id = $1 AND i.image_index >= $2 AND i.image_index < $3
              AND NOT EXISTS (SELECT 1 FROM image_results r WHERE r.job_id = i.job_id AND r.image_index = i.image_index)
            ORDER BY i.image_index""")
        .execute(Tuple.of(lease.jobId(), lease.firstIndex(), lease.endIndex()))
        .map(rows -> {
          List<ImageRef> refs = new ArrayList<>();
          rows.forEach(r -> refs.add(new ImageRef(r.getInteger("image_index"), r.getString("s3_uri"),
              r.getString("image_name"))));
          return refs;
        });
  }
}
