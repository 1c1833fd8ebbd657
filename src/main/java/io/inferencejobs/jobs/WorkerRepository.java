package io.inferencejobs.jobs;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;

/** The worker verticles of the cluster, as they announce themselves: readiness and dispatch read it. */
public final class WorkerRepository {
  private final Pool pool;

  public WorkerRepository(Pool pool) {
    this.pool = pool;
  }

  /**
   * Records (or refreshes) a worker: its node, device, execution provider and free slots, seen now; {@code degraded}
   * when it runs on another provider than its device asked for, with {@code note} saying why.
   */
  public Future<Void> announce(String workerId, String nodeId, String device, String provider, int slots,
                               int freeSlots, boolean degraded, String note) {
    return pool.preparedQuery("""
            INSERT INTO workers (worker_id, node_id, device, provider, slots, free_slots, last_seen, degraded, note)
            VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8)
            ON CONFLICT (worker_id) DO UPDATE SET provider = $4, slots = $5, free_slots = $6, last_seen = now(),
              degraded = $7, note = $8""")
        .execute(Tuple.from(new Object[] {workerId, nodeId, device, provider, slots, freeSlots, degraded, note}))
        .mapEmpty();
  }

  public Future<Void> remove(String workerId) {
    return pool.preparedQuery("DELETE FROM workers WHERE worker_id = $1").execute(Tuple.of(workerId)).mapEmpty();
  }

  /** The workers seen in the last {@code staleSeconds}, as JSON objects. */
  public Future<JsonArray> live(int staleSeconds) {
    return pool.preparedQuery("""
            SELECT worker_id, node_id, device, provider, slots, free_slots, degraded, note FROM workers
            WHERE last_seen > now() - make_interval(secs => $1) ORDER BY worker_id""")
        .execute(Tuple.of((double) staleSeconds))
        .map(rows -> {
          JsonArray out = new JsonArray();
          for (Row r : rows) {
            out.add(new JsonObject().put("worker_id", r.getString("worker_id")).put("node_id", r.getString("node_id"))
                .put("device", r.getString("device")).put("provider", r.getString("provider"))
                .put("slots", r.getInteger("slots")).put("free_slots", r.getInteger("free_slots"))
                .put("degraded", r.getBoolean("degraded")).put("note", r.getString("note")));
          }
          return out;
        });
  }
}
