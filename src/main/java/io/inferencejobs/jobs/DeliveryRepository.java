package io.inferencejobs.jobs;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;

/**
 * The outbox of what leaves the service after job events: webhook deliveries and export files. Rows are made by the
 * database in the transaction that stores the event (see the {@code job_event_deliveries} trigger); here they are
 * claimed with a lease (several nodes never send one at once, a node that dies mid-send leaves it to be claimed again),
 * and settled: delivered, retried later, or failed for good.
 */
public final class DeliveryRepository {
  private final Pool pool;

  public DeliveryRepository(Pool pool) {
    this.pool = pool;
  }

  /**
   * One claimed delivery. {@code webhook}: the job's {url, secret, events}; {@code outputs}: for a terminal event,
   * what the job's export files step of the same event wrote (null when it had none).
   */
  public record Claimed(String id, long jobId, String kind, String event, JsonObject payload, int attempts,
                        OffsetDateTime createdAt, JsonObject webhook, JsonObject outputs) {
  }

  /**
   * Claims up to {@code limit} due deliveries for {@code leaseSeconds}, counting an attempt each. A terminal event's
   * webhook waits for the export files of the same event, so that the callback can name them.
   */
  public Future<List<Claimed>> claim(int limit, int leaseSeconds) {
    return pool.preparedQuery("""
            UPDATE job_deliveries d SET lease_expires_at = now() + make_interval(secs => $2), attempts = d.attempts + 1
            FROM (SELECT p.id FROM job_deliveries p
                  WHERE p.state = 'pending' AND p.next_attempt_at <= now()
                    AND (p.lease_expires_at IS NULL OR p.lease_expires_at < now())
                    AND NOT (p.kind = 'webhook' AND EXISTS (
                      SELECT 1 FROM job_deliveries o WHERE o.job_id = p.job_id AND o.kind = 'output'
                        AND o.event_seq = p.event_seq AND o.state = 'pending'))
                  ORDER BY p.next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) pick
            WHERE d.id = pick.id
            RETURNING d.id, d.job_id, d.kind, d.event, d.payload, d.attempts, d.created_at,
              (SELECT j.webhook FROM inference_jobs j WHERE j.id = d.job_id) AS webhook,
              (SELECT o.result FROM job_deliveries o WHERE o.job_id = d.job_id AND o.kind = 'output'
                 AND o.event_seq = d.event_seq) AS outputs""")
        .execute(Tuple.of(limit, (double) leaseSeconds))
        .map(rows -> {
          List<Claimed> out = new ArrayList<>();
          for (Row r : rows) {
            out.add(new Claimed(r.getString("id"), r.getLong("job_id"), r.getString("kind"), r.getString("event"),
                (JsonObject) r.getJson("payload"), r.getInteger("attempts"), r.getOffsetDateTime("created_at"),
                (JsonObject) r.getJson("webhook"), (JsonObject) r.getJson("outputs")));
          }
          return out;
        });
  }

  /** Delivered (or written): done for good. */
  public Future<Void> delivered(String id, Integer status, JsonObject result) {
    return pool.preparedQuery("""
            UPDATE job_deliveries SET state = 'delivered', last_status = $2, last_error = NULL, result = $3,
              lease_expires_at = NULL, finished_at = now() WHERE id = $1""")
        .execute(Tuple.of(id, status, result)).mapEmpty();
  }

  /** Not this time: tried again after {@code delayMs}. */
  public Future<Void> retryLater(String id, long delayMs, Integer status, String error) {
    return pool.preparedQuery("""
            UPDATE job_deliveries SET next_attempt_at = now() + make_interval(secs => $2), last_status = $3,
              last_error = $4, lease_expires_at = NULL WHERE id = $1""")
        .execute(Tuple.of(id, delayMs / 1000.0, status, error)).mapEmpty();
  }

  /** Given up: no more tries. */
  public Future<Void> failed(String id, Integer status, String error) {
    return pool.preparedQuery("""
            UPDATE job_deliveries SET state = 'failed', last_status = $2, last_error = $3, lease_expires_at = NULL,
              finished_at = now() WHERE id = $1""")
        .execute(Tuple.of(id, status, error)).mapEmpty();
  }

  /** A job's deliveries, oldest first, as the API shows them (never the secret). */
  public Future<List<JsonObject>> ofJob(long jobId, int limit) {
    return pool.preparedQuery("""
            SELECT id, kind, event, state, attempts, last_status, last_error, result, created_at, next_attempt_at,
                   finished_at FROM job_deliveries WHERE job_id = $1 ORDER BY created_at, id LIMIT $2""")
        .execute(Tuple.of(jobId, limit))
        .map(rows -> {
          List<JsonObject> out = new ArrayList<>();
          for (Row r : rows) {
            String state = r.getString("state");
            Object result = r.getJson("result");
            out.add(new JsonObject()
                .put("id", r.getString("id"))
                .put("kind", r.getString("kind"))
                .put("event", r.getString("event"))
                .put("state", state)
                .put("attempts", r.getInteger("attempts"))
                .put("last_status_code", r.getInteger("last_status"))
                .put("last_error", r.getString("last_error"))
                .put("files", result instanceof JsonObject o ? o.getJsonArray("files", new JsonArray()) : null)
                .put("created_at", Job.ts(r.getOffsetDateTime("created_at")))
                .put("next_attempt_at", state.equals("pending") ? Job.ts(r.getOffsetDateTime("next_attempt_at")) : null)
                .put("finished_at", Job.ts(r.getOffsetDateTime("finished_at"))));
          }
          return out;
        });
  }
}
