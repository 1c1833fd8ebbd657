package io.inferencejobs.jobs;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/** The registry of training jobs (the owners of checkpoints). */
public final class TrainingJobRepository {
  /**
   * How long a training job read for a job's creation is kept. Changes made through this repository drop it at once,
   * on every node (see {@link #onChange}); the time only bounds a change made some other way.
   */
  static final long CACHE_NANOS = 5_000_000_000L;
  private static final int CACHE_MAX = 10_000;

  private record Cached(TrainingJob job, long at) {
  }

  private final Pool pool;
  private final Map<Long, Cached> cache = new ConcurrentHashMap<>();
  private volatile Consumer<Long> changed = id -> {
  };

  public TrainingJobRepository(Pool pool) {
    this.pool = pool;
  }

  /** Fails with {@link DuplicateName} when the name is taken. */
  public Future<TrainingJob> create(String name, String taskType, JsonArray classNames, JsonObject checkpoints) {
    return pool.preparedQuery("""
            INSERT INTO training_jobs (name, task_type, class_names, checkpoints) VALUES ($1, $2, $3, $4)
            RETURNING *""")
        .execute(Tuple.of(name, taskType, classNames, checkpoints))
        .map(rows -> TrainingJob.from(rows.iterator().next()))
        .recover(err -> err instanceof PgException pg && "23505".equals(pg.getSqlState())
            ? Future.failedFuture(new DuplicateName(name)) : Future.failedFuture(err));
  }

  /** Registers {@code name} if missing, else refreshes its checkpoints; used for the bundled pretrained model. */
  public Future<TrainingJob> upsert(String name, String taskType, JsonArray classNames, JsonObject checkpoints) {
    return pool.preparedQuery("""
            INSERT INTO training_jobs (name, task_type, class_names, checkpoints) VALUES ($1, $2, $3, $4)
            ON CONFLICT (name) DO UPDATE SET checkpoints = training_jobs.checkpoints || EXCLUDED.checkpoints
            RETURNING *""")
        .execute(Tuple.of(name, taskType, classNames, checkpoints))
        .map(rows -> TrainingJob.from(rows.iterator().next()))
        .onSuccess(tj -> changed(tj.id()));
  }

  /**
   * Registers (or replaces) checkpoint {@code name} of a training job with what was found inside it. Empty when the
   * training job does not exist; otherwise whether the name was new.
   */
  public Future<Optional<Boolean>> putCheckpoint(long id, String name, String s3Uri, JsonObject info) {
    return pool.preparedQuery("""
            UPDATE training_jobs t SET checkpoints = t.checkpoints || jsonb_build_object($2::text, $3::text),
                   checkpoint_info = t.checkpoint_info || jsonb_build_object($2::text, $4::jsonb)
            FROM (SELECT id, checkpoints ? $2 AS existed FROM training_jobs WHERE id = $1 FOR UPDATE) old
            WHERE t.id = old.id RETURNING old.existed""")
        .execute(Tuple.of(id, name, s3Uri, info))
        .map(rows -> JobRepository.first(rows).map(r -> !r.getBoolean("existed")))
        .onSuccess(v -> changed(id));
  }

  /**
   * A training job as job creation reads it: from a short-lived cache, which changes through any node's repository
   * empty at once. One statement fewer per created job. A training job that does not exist is never cached.
   */
  public Future<Optional<TrainingJob>> cached(long id) {
    Cached c = cache.get(id);
    if (c != null && System.nanoTime() - c.at() < CACHE_NANOS) {
      return Future.succeededFuture(Optional.of(c.job()));
    }
    long at = System.nanoTime();
    return get(id).onSuccess(found -> found.ifPresent(tj -> {
      if (cache.size() >= CACHE_MAX) {
        cache.clear();
      }
      cache.put(id, new Cached(tj, at));
    }));
  }

  /** Forgets a cached training job (this node's copy). */
  public void invalidate(long id) {
    cache.remove(id);
  }

  /** Called with a training job's id after this repository changed it (the node tells the others). */
  public void onChange(Consumer<Long> listener) {
    this.changed = listener;
  }

  private void changed(long id) {
    invalidate(id);
    changed.accept(id);
  }

  public Future<Optional<TrainingJob>> get(long id) {
    return pool.preparedQuery("SELECT * FROM training_jobs WHERE id = $1").execute(Tuple.of(id))
        .map(rows -> JobRepository.first(rows).map(TrainingJob::from));
  }

  public Future<Page<TrainingJob>> list(Long afterId, int skip, int limit) {
    return pool.preparedQuery("""
            SELECT * FROM training_jobs WHERE ($1::bigint IS NULL OR id > $1) ORDER BY id OFFSET $2 LIMIT $3""")
        .execute(Tuple.of(afterId, skip, limit + 1))
        .map(rows -> {
          List<TrainingJob> items = new ArrayList<>();
          rows.forEach(r -> items.add(TrainingJob.from(r)));
          return Page.of(items, limit, TrainingJob::id);
        });
  }

  /** The name is already registered. */
  public static final class DuplicateName extends RuntimeException {
    public DuplicateName(String name) {
      super("a training job named '" + name + "' already exists", null, false, false);
    }
  }
}
