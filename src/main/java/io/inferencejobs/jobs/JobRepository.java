package io.inferencejobs.jobs;

import io.inferencejobs.bus.JobEvent;
import io.inferencejobs.exports.ExportedImage;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;

import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * All SQL about inference jobs, their images, chunks, results and events. Every state transition is persisted
 * (with its event) in one transaction and published only after commit.
 */
public final class JobRepository {

  /** The workers that processed a job {@code j}'s chunks, as a JSON array. */
  private static final String WORKERS = """
      (SELECT coalesce(jsonb_agg(DISTINCT c.processed_by), '[]'::jsonb) FROM job_chunks c
       WHERE c.job_id = j.id AND c.processed_by IS NOT NULL)""";
  private static final String SELECT_JOB = "SELECT j.*, " + WORKERS + " AS workers FROM inference_jobs j\n";

  private final Pool pool;
  private final ResultListing resultListing;
  private final EventSink sink;

  public JobRepository(Pool pool, EventSink sink) {
    this.pool = pool;
    this.resultListing = new ResultListing(pool);
    this.sink = sink;
  }

  // ---------------------------------------------------------------- API side

  /** The tenant already has {@code max} pending or running jobs. */
  public static final class TooManyActiveJobs extends RuntimeException {
    public TooManyActiveJobs(String tenant, int max) {
      super("tenant '" + tenant + "' already has " + max + " pending or running jobs, the most it may have", null,
          false, false);
    }
  }

  /** The tenant already used the idempotency key for a request with another body. */
  public static final class IdempotencyConflict extends RuntimeException {
    public IdempotencyConflict() {
      super("this Idempotency-Key was already used with a different request body", null, false, false);
    }
  }

  /**
   * Stores the job, its images and chunks, and its first event, atomically; or, when the job's tenant already made a
   * job with the same idempotency key, returns that job (same request hash) or fails with {@link IdempotencyConflict}
   * (another hash). Requests with one key are serialised by an advisory lock on (tenant, key), so that of concurrent
   * requests exactly one creates and the others see its job. When the job has a tenant and
   * {@code maxActivePerTenant > 0}, fails with {@link TooManyActiveJobs} if the tenant already has that many pending
   * or running jobs; the count and the insert happen under a per-tenant lock, so concurrent requests cannot overshoot.
   */
  public Future<Job> create(NewJob job, List<ImageRef> images, int chunkSize, int maxActivePerTenant) {
    String[] uris = images.stream().map(ImageRef::s3Uri).toArray(String[]::new);
    String[] names = images.stream().map(ImageRef::name).toArray(String[]::new);
    boolean limited = job.tenant() != null && maxActivePerTenant > 0;
    String idem = job.idempotencyKey();
    if (idem == null && !limited) {
      // nothing to lock or count first: one statement, atomic by itself, is the whole create (one round trip)
      return insert(pool, job, uris, names, images.size(), chunkSize).map(outcome -> {
        sink.publish(outcome.events());
        return outcome.value();
      });
    }
    return inTx(conn -> (idem == null ? Future.<Optional<Job>>succeededFuture(Optional.empty())
        : conn.preparedQuery("SELECT 1 FROM pg_advisory_xact_lock(hashtext('idem:' || coalesce($1, '') || ':' || $2))")
            .execute(Tuple.of(job.tenant(), idem))
            .compose(locked -> replay(conn, job.tenant(), idem, job.requestHash())))
        .compose(existing -> existing.isPresent()
            ? Future.succeededFuture(new Outcome<>(existing.get(), List.<JobEvent>of()))
            : (limited ? activeLimit(conn, job.tenant(), maxActivePerTenant) : Future.<Void>succeededFuture())
                .compose(ok -> insert(conn, job, uris, names, images.size(), chunkSize))))
        .recover(err -> {
          // the lock makes this rare (a key first used inside a transaction that has not committed): same answer
          if (idem != null && err instanceof io.vertx.pgclient.PgException pg && "23505".equals(pg.getSqlState())) {
            return pool.withConnection(conn -> replay(conn, job.tenant(), idem, job.requestHash()))
                .map(found -> found.orElseThrow(() -> err instanceof RuntimeException re ? re
                    : new IllegalStateException(err)));
          }
          return Future.failedFuture(err);
        });
  }

  /** The tenant's job made with {@code key}; fails with {@link IdempotencyConflict} when its body differed. */
  private static Future<Optional<Job>> replay(SqlClient conn, String tenant, String key, String requestHash) {
    return conn.preparedQuery(SELECT_JOB + " WHERE coalesce(j.tenant, '') = coalesce($1, '') AND j.idempotency_key = $2")
        .execute(Tuple.of(tenant, key))
        .compose(rows -> {
          Optional<Job> found = first(rows).map(Job::from);
          if (found.isPresent() && !requestHash.equals(first(rows).orElseThrow().getString("request_hash"))) {
            return Future.failedFuture(new IdempotencyConflict());
          }
          return Future.succeededFuture(found);
        });
  }

  /** Under a per-tenant lock, then counted in a statement of its own (its snapshot sees every job committed before). */
  private static Future<Void> activeLimit(SqlConnection conn, String tenant, int max) {
    return conn.preparedQuery("SELECT 1 FROM pg_advisory_xact_lock(hashtext('tenant:' || $1))").execute(Tuple.of(tenant))
        .compose(locked -> conn.preparedQuery(
                "SELECT count(*) AS n FROM inference_jobs WHERE tenant = $1 AND status IN ('pending', 'running')")
            .execute(Tuple.of(tenant)))
        .compose(rows -> rows.iterator().next().getLong("n") >= max
            ? Future.failedFuture(new TooManyActiveJobs(tenant, max)) : Future.succeededFuture());
  }

  /**
   * One statement stores the job, its images, its chunks and its first status event (data-modifying CTEs all run,
   * atomically). The event's data is the job as {@link Job#toJson()} renders it, built here before the row exists:
   * the creation time is chosen here (to the microsecond PostgreSQL keeps) and written to the row too, and only the
   * id, which the sequence gives, is set into the data by the statement.
   */
  private static Future<Outcome<Job>> insert(SqlClient conn, NewJob job, String[] uris, String[] names, int total,
                                             int chunkSize) {
    OffsetDateTime createdAt = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.MICROS);
    Job draft = new Job(0, job.trainingJobId(), job.checkpointPath(), job.modelUri(), job.inferenceType(),
        job.taskType(), JobStatus.PENDING, job.inputData(), total, 0, 0, 0, null, createdAt, null, null,
        new JsonArray(), 1, job.tenant(), 1, job.webhook(), job.output());
    JsonObject data = draft.toJson();
    return conn.preparedQuery("""
            WITH j AS (
              INSERT INTO inference_jobs (training_job_id, checkpoint_path, model_uri, inference_type, task_type,
                                          status, input_data, total_images, idempotency_key, request_hash, owner,
                                          tenant, webhook, output, created_at, event_seq, attempt)
              VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7::int, $8, $9, $10, $14, $15, $16, $17, 1, 1) RETURNING *),
            i AS (
              INSERT INTO job_images (job_id, image_index, s3_uri, image_name)
              SELECT j.id, (t.i - 1)::int, t.u, t.n FROM j, unnest($11::text[], $12::text[]) WITH ORDINALITY AS t(u, n, i)),
            c AS (
              INSERT INTO job_chunks (job_id, chunk_index, first_index, end_index, state)
              SELECT j.id, g, g * $13::int, least((g + 1) * $13::int, $7::int), 'pending'
              FROM j, generate_series(0, (($7::int + $13::int - 1) / $13::int) - 1) AS g),
            e AS (
              INSERT INTO job_events (job_id, seq, type, data)
              SELECT j.id, 1, 'status', jsonb_set($18::jsonb, '{id}', to_jsonb(j.id)) FROM j RETURNING id)
            SELECT j.*, '[]'::jsonb AS workers, (SELECT id FROM e) AS first_event_id FROM j""")
        .execute(Tuple.from(new Object[] {job.trainingJobId(), job.checkpointPath(), job.modelUri(),
            job.inferenceType(), job.taskType(), job.inputData(), total, job.idempotencyKey(),
            job.requestHash(), job.owner(), uris, names, chunkSize, job.tenant(), job.webhook(), job.output(),
            createdAt, data}))
        .map(rows -> {
          Row row = rows.iterator().next();
          Job created = Job.from(row);
          JobEvent event = new JobEvent(row.getLong("first_event_id"), created.id(), created.trainingJobId(), 1,
              JobEvent.STATUS, data.copy().put("id", created.id()), created.tenant());
          return new Outcome<>(created, List.of(event));
        });
  }

  /** The tenant's job made with {@code key}, if any (a cheap check before a replayed request is resolved again). */
  public Future<Optional<Job>> findByIdempotencyKey(String tenant, String key, String requestHash) {
    return replay(pool, tenant, key, requestHash);
  }

  public Future<Optional<Job>> get(long id) {
    return pool.preparedQuery(SELECT_JOB + " WHERE j.id = $1").execute(Tuple.of(id))
        .map(rows -> first(rows).map(Job::from));
  }

  /**
   * Newest first, of one tenant ({@code tenant} null: of all). {@code beforeId} is the cursor (exclusive); {@code skip}
   * an offset for clients that prefer it.
   */
  public Future<Page<Job>> list(TenantFilter tenant, JobFilter filter, Long beforeId, int skip, int limit) {
    return pool.preparedQuery(SELECT_JOB + """
             WHERE ($1::bigint IS NULL OR j.training_job_id = $1)
               AND ($2::text IS NULL OR j.status = $2)
               AND ($3::bigint IS NULL OR j.id < $3)
               AND ($6::boolean OR j.tenant = $7)
               AND ($8::timestamptz IS NULL OR j.created_at >= $8)
               AND ($9::timestamptz IS NULL OR j.created_at < $9)
             ORDER BY j.id DESC OFFSET $4 LIMIT $5""")
        .execute(Tuple.tuple(java.util.Arrays.asList(filter.trainingJobId(), filter.status(), beforeId, skip,
            limit + 1, tenant.all(), tenant.tenant(), filter.createdFrom(), filter.createdBefore())))
        .map(rows -> {
          List<Job> jobs = new ArrayList<>();
          rows.forEach(r -> jobs.add(Job.from(r)));
          return Page.of(jobs, limit, Job::id);
        });
  }

  /** The results API's listings of a job's results. */
  public ResultListing resultListing() {
    return resultListing;
  }

  /**
   * Up to {@code limit} processed images of a job after {@code afterIndex}, in index order, as exports read them
   * (keyset pages: each export holds one page at a time, however large the job).
   */
  public Future<List<ExportedImage>> exportPage(long jobId, int afterIndex, int limit) {
    return pool.preparedQuery("""
            SELECT i.image_index, i.image_name, i.s3_uri, r.width, r.height, r.predictions, r.error, r.error_code,
                   r.classifications
            FROM job_images i JOIN image_results r ON r.job_id = i.job_id AND r.image_index = i.image_index
            WHERE i.job_id = $1 AND i.image_index > $2
            ORDER BY i.image_index LIMIT $3""")
        .execute(Tuple.of(jobId, afterIndex, limit))
        .map(rows -> {
          List<ExportedImage> out = new ArrayList<>(rows.size());
          for (Row r : rows) {
            out.add(new ExportedImage(r.getInteger("image_index"), r.getString("image_name"), r.getString("s3_uri"),
                r.getInteger("width"), r.getInteger("height"), (JsonArray) r.getJson("predictions"),
                r.getString("error"), r.getString("error_code"),
                r.getJson("classifications") instanceof JsonArray cls ? cls : null));
          }
          return out;
        });
  }

  /** The class names of the model the job ran, when a worker has recorded them. */
  public Future<Optional<List<String>>> classNames(long jobId) {
    return pool.preparedQuery("SELECT class_names FROM inference_jobs WHERE id = $1").execute(Tuple.of(jobId))
        .map(rows -> first(rows).map(r -> r.getJson("class_names")).filter(JsonArray.class::isInstance)
            .map(a -> ((JsonArray) a).stream().map(String::valueOf).toList()));
  }

  /** The one result of an image of a job, for drawing it. */
  public Future<Optional<ExportedImage>> exportedImage(long jobId, int index) {
    return exportPage(jobId, index - 1, 1).map(list -> list.stream().filter(i -> i.index() == index).findFirst());
  }

  /** The stored image of a job, for previews. */
  public Future<Optional<ImageRef>> image(long jobId, int index) {
    return pool.preparedQuery("SELECT image_index, s3_uri, image_name FROM job_images WHERE job_id = $1 AND image_index = $2")
        .execute(Tuple.of(jobId, index))
        .map(rows -> first(rows).map(r -> new ImageRef(r.getInteger("image_index"), r.getString("s3_uri"),
            r.getString("image_name"))));
  }

  /**
   * Moves a job to {@code target} if the state machine allows it from its current state. Empty when it does not
   * (or the job does not exist).
   */
  public Future<Optional<Job>> transition(long jobId, JobStatus target, String errorMessage) {
    return inTx(conn -> transition(conn, jobId, target, errorMessage));
  }

  private Future<Outcome<Optional<Job>>> transition(SqlConnection conn, long jobId, JobStatus target, String error) {
    return updateJob(conn, """
            UPDATE inference_jobs SET status = $2,
              started_at = CASE WHEN $2 = 'running' THEN now() ELSE started_at END,
              completed_at = CASE WHEN $2 IN ('completed', 'failed', 'cancelled') THEN now() ELSE completed_at END,
              error_message = coalesce($3, error_message)
            WHERE id = $1 AND status = ANY($4)""", Tuple.of(jobId, target.db(), error, JobStatus.sourcesOf(target)))
        .compose(updated -> {
          if (updated.isEmpty()) {
            return Future.succeededFuture(new Outcome<>(Optional.<Job>empty(), List.<JobEvent>of()));
          }
          Job job = updated.get();
          List<NewEvent> events = new ArrayList<>();
          events.add(new NewEvent(JobEvent.STATUS, job.toJson()));
          if (target.terminal()) {
            events.add(new NewEvent(target.db(), job.toJson()));
          }
          return appendEvents(conn, job, events).map(ev -> new Outcome<>(Optional.of(job), ev));
        });
  }

  /** Why a job cannot be retried or deleted now: its status, or that it has nothing to retry. */
  public static final class Refused extends RuntimeException {
    private final JobStatus status;

    public Refused(JobStatus status, String message) {
      super(message, null, false, false);
      this.status = status;
    }

    public JobStatus status() {
      return status;
    }
  }

  /**
   * Runs a job that ended (completed or failed) again on the images that have no successful result: the failed
   * ones lose their result, the chunks that hold any such image reopen, the counters go back by as much, and the job
   * is pending again with its attempt counted. Results of images that succeeded stay as they are. Fails with
   * {@link Refused} when the job is pending, running or cancelled, or when every image succeeded.
   */
  public Future<Optional<Job>> retryFailed(long jobId) {
    return inTx(conn -> conn.preparedQuery("SELECT status FROM inference_jobs WHERE id = $1 FOR UPDATE")
        .execute(Tuple.of(jobId))
        .compose(rows -> {
          Optional<Row> row = first(rows);
          if (row.isEmpty()) {
            return Future.succeededFuture(new Outcome<>(Optional.<Job>empty(), List.<JobEvent>of()));
          }
          JobStatus status = JobStatus.of(row.get().getString("status"));
          if (status != JobStatus.COMPLETED && status != JobStatus.FAILED) {
            return Future.failedFuture(new Refused(status, "job " + jobId + " is " + status.db()
                + (status == JobStatus.CANCELLED ? "; a cancelled job is not retried, create a new job"
                : "; only a job that ended (completed or failed) can be retried")));
          }
          return conn.preparedQuery("""
                  WITH del AS (DELETE FROM image_results WHERE job_id = $1 AND error IS NOT NULL RETURNING image_index),
                  reopened AS (
                    UPDATE job_chunks c SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL,
                           attempts = 0, not_before = NULL, last_error = NULL
                    WHERE c.job_id = $1 AND (
                      EXISTS (SELECT 1 FROM del d WHERE d.image_index >= c.first_index AND d.image_index < c.end_index)
                      OR EXISTS (SELECT 1 FROM job_images i WHERE i.job_id = c.job_id
                                   AND i.image_index >= c.first_index AND i.image_index < c.end_index
                                   AND NOT EXISTS (SELECT 1 FROM image_results r
                                                   WHERE r.job_id = i.job_id AND r.image_index = i.image_index)))
                    RETURNING 1)
                  SELECT (SELECT count(*) FROM del) AS failed, (SELECT count(*) FROM reopened) AS chunks""")
              .execute(Tuple.of(jobId))
              .compose(counts -> {
                Row c = counts.iterator().next();
                long failed = c.getLong("failed");
                if (c.getLong("chunks") == 0) {
                  return Future.failedFuture(new Refused(status, "job " + jobId + " has no failed images to retry"));
                }
                return updateJob(conn, """
                        UPDATE inference_jobs SET status = 'pending', attempt = attempt + 1,
                          processed_images = processed_images - $2, failed_images = failed_images - $2,
                          completed_at = NULL, error_message = NULL
                        WHERE id = $1""", Tuple.of(jobId, (int) failed))
                    .map(Optional::orElseThrow)
                    .compose(job -> appendEvents(conn, job, List.of(new NewEvent(JobEvent.STATUS, job.toJson())))
                        .map(ev -> new Outcome<>(Optional.of(job), ev)));
              });
        }));
  }

  /** What deleting a job removed from the database, and the uploaded objects to remove from S3 now. */
  public record Deleted(long jobId, List<String> uploadedObjects) {
  }

  /**
   * Deletes a job that is not pending or running, with its images, chunks, results, events and deliveries, and the
   * records of its uploaded images that no other job uses (returned, so that their objects go too). Empty when the
   * job does not exist; {@link Refused} while it may still run.
   */
  public Future<Optional<Deleted>> delete(long jobId) {
    return deadlockRetried(() -> deleteOnce(jobId), 3);
  }

  /**
   * {@code work} again when PostgreSQL broke a deadlock by ending it. A result write of a job cancelled a moment ago
   * holds its image rows and waits for the job row, and a delete holds the job row and waits for its image rows:
   * the write is stopped either way (its job is gone), and the delete is run again.
   */
  private static <T> Future<T> deadlockRetried(java.util.function.Supplier<Future<T>> work, int attempts) {
    return work.get().recover(e -> attempts > 1 && e instanceof io.vertx.pgclient.PgException pg
        && "40P01".equals(pg.getSqlState()) ? deadlockRetried(work, attempts - 1) : Future.failedFuture(e));
  }

  private Future<Optional<Deleted>> deleteOnce(long jobId) {
    return pool.withTransaction(conn -> conn.preparedQuery("SELECT status FROM inference_jobs WHERE id = $1 FOR UPDATE")
        .execute(Tuple.of(jobId))
        .compose(rows -> {
          Optional<Row> row = first(rows);
          if (row.isEmpty()) {
            return Future.succeededFuture(Optional.<Deleted>empty());
          }
          JobStatus status = JobStatus.of(row.get().getString("status"));
          if (!status.terminal()) {
            return Future.failedFuture(new Refused(status, "job " + jobId + " is " + status.db()
                + "; cancel it first, then delete it"));
          }
          return conn.preparedQuery("""
                  WITH mine AS (SELECT DISTINCT s3_uri FROM job_images WHERE job_id = $1),
                  unused AS (SELECT m.s3_uri FROM mine m
                             WHERE NOT EXISTS (SELECT 1 FROM job_images o WHERE o.s3_uri = m.s3_uri AND o.job_id <> $1)),
                  gone AS (DELETE FROM uploaded_files f USING unused u WHERE f.s3_uri = u.s3_uri
                           RETURNING f.s3_uri, f.session_id)
                  SELECT s3_uri, session_id FROM gone""")
              .execute(Tuple.of(jobId))
              .compose(gone -> {
                List<String> uris = new ArrayList<>();
                java.util.Set<java.util.UUID> sessions = new java.util.HashSet<>();
                gone.forEach(r -> {
                  uris.add(r.getString("s3_uri"));
                  sessions.add(r.getUUID("session_id"));
                });
                return conn.preparedQuery("""
                        DELETE FROM upload_sessions s WHERE s.id = ANY($1)
                          AND NOT EXISTS (SELECT 1 FROM uploaded_files f WHERE f.session_id = s.id)""")
                    .execute(Tuple.of(sessions.toArray(new java.util.UUID[0])))
                    .compose(x -> conn.preparedQuery("DELETE FROM inference_jobs WHERE id = $1").execute(Tuple.of(jobId)))
                    .map(x -> Optional.of(new Deleted(jobId, uris)));
              });
        }));
  }

  /** Up to {@code limit} jobs that ended more than {@code days} days ago, oldest first (for retention). */
  public Future<List<Long>> endedBefore(int days, int limit) {
    return pool.preparedQuery("""
            SELECT id FROM inference_jobs WHERE status IN ('completed', 'failed', 'cancelled')
              AND completed_at < now() - make_interval(days => $1) ORDER BY completed_at LIMIT $2""")
        .execute(Tuple.of(days, limit))
        .map(rows -> {
          List<Long> ids = new ArrayList<>();
          rows.forEach(r -> ids.add(r.getLong("id")));
          return ids;
        });
  }

  // ---------------------------------------------------------------- worker side

  /** What a worker learns when it writes: whether to go on, and the job's counters after the write. */
  public record WriteOutcome(boolean keepGoing, Job job, int inserted) {
  }

  /** Progress events of one job are at least this far apart (10 a second at most), however many workers run it. */
  public static final long PROGRESS_INTERVAL_MS = 100;

  /**
   * Writes a batch of results idempotently per (job, image_index), moves the counters by the rows actually
   * inserted, and lists the new results in {@code images} events, plus an optional {@code progress} event.
   * Writes nothing when the job is no longer running (cancelled meanwhile).
   *
   * <p>The writes of one job from this node run one transaction at a time; those that arrive while one runs go
   * together in the next (see {@link GroupQueue}). A write that finds none running starts at once.
   */
  public Future<WriteOutcome> writeResults(long jobId, String workerId, List<ResultRow> results,
                                           boolean progressDue) {
    return writes.submit(jobId, new PendingWrite(jobId, null, workerId, results, progressDue, 0))
        .map(LastWrite::write);
  }

  /**
   * A chunk's last batch: {@link #writeResults} and, when the job is still running, {@link #finishChunk}, in one
   * transaction. The job row locked (and read back) by the write saves the finish its own lock and read, and the
   * one-image job its separate commit.
   *
   * @return the write's outcome, and the job when this finished it (completed or failed)
   */
  public Future<LastWrite> writeLastResults(ChunkLease lease, String workerId, List<ResultRow> results,
                                            boolean progressDue, double maxFailedRatio) {
    return writes.submit(lease.jobId(),
        new PendingWrite(lease.jobId(), lease, workerId, results, progressDue, maxFailedRatio));
  }

  /** What {@link #writeLastResults} did: the write, and the job when the chunk's finish ended it. */
  public record LastWrite(WriteOutcome write, Optional<Job> finished) {
  }

  /** Most result rows one transaction writes for one job. */
  static final int MAX_ROWS_PER_WRITE = 2048;

  private final GroupQueue<Long, PendingWrite, LastWrite> writes =
      new GroupQueue<>((job, group) -> writeGroup(group), w -> w.results().size(), MAX_ROWS_PER_WRITE);

  private final java.util.concurrent.atomic.LongAdder writeTransactions = new java.util.concurrent.atomic.LongAdder();
  private final java.util.concurrent.atomic.LongAdder writeStatements = new java.util.concurrent.atomic.LongAdder();

  /**
   * Transactions and statements the result writes of this node ran so far (BEGIN and COMMIT counted), for the
   * benchmarks' statements per image.
   */
  public long[] writeCounts() {
    return new long[] {writeTransactions.sum(), writeStatements.sum()};
  }

  /** A worker's write waiting for its turn: {@code lease} is set when it is the chunk's last. */
  private record PendingWrite(long jobId, ChunkLease lease, String workerId, List<ResultRow> results,
                              boolean progressDue, double maxFailedRatio) {
  }

  private static final WriteOutcome STOPPED = new WriteOutcome(false, null, 0);

  /**
   * Whether a write failed because its job stopped running: cancelled or ended (found under the job row's lock), or
   * deleted with its images while the results went in (their foreign key).
   */
  private static boolean notRunning(Throwable e) {
    return e instanceof NotRunning
        || e instanceof io.vertx.pgclient.PgException pg && "23503".equals(pg.getSqlState());
  }

  /**
   * Writes of one job in one transaction: all their results, the counters and events once, then the chunks whose
   * last batch is among them, one after the other (only the last of the job's chunks can end it).
   */
  private Future<List<LastWrite>> writeGroup(List<PendingWrite> group) {
    writeTransactions.increment();
    return inTx(conn -> writeResults(conn, group).compose(written -> {
      List<LastWrite> out = new ArrayList<>();
      List<JobEvent> events = new ArrayList<>(written.events());
      Future<Optional<Job>> finishing = Future.succeededFuture(Optional.empty());
      Job job = written.value().job();
      for (int i = 0; i < group.size(); i++) {
        PendingWrite w = group.get(i);
        WriteOutcome outcome = new WriteOutcome(true, job, written.value().inserted()[i]);
        if (w.lease() == null) {
          out.add(new LastWrite(outcome, Optional.empty()));
          continue;
        }
        int k = out.size();
        out.add(new LastWrite(outcome, Optional.empty()));
        finishing = finishing.compose(ended -> ended.isPresent() ? Future.succeededFuture(ended)
            : finishChunk(conn, w.lease(), w.workerId(), w.maxFailedRatio(), job.status(), job.totalImages(),
                job.failedImages()).map(finished -> {
                  writeStatements.increment();
                  events.addAll(finished.events());
                  out.set(k, new LastWrite(outcome, finished.value()));
                  return finished.value();
                }));
      }
      return finishing.map(x -> new Outcome<>(out, events));
    })).recover(e -> notRunning(e)
        ? Future.succeededFuture(group.stream().map(w -> new LastWrite(STOPPED, Optional.<Job>empty())).toList())
        : Future.failedFuture(e));
  }

  /** The job after a group's write, and how many rows each write of the group inserted. */
  private record Written(Job job, int[] inserted) {
  }

  private Future<Outcome<Written>> writeResults(SqlConnection conn, List<PendingWrite> group) {
    long jobId = group.get(0).jobId();
    List<ResultRow> results = new ArrayList<>();
    List<String> workers = new ArrayList<>();
    boolean progressDue = false;
    for (PendingWrite w : group) {
      results.addAll(w.results());
      w.results().forEach(r -> workers.add(w.workerId()));
      progressDue |= w.progressDue();
    }
    Integer[] idx = results.stream().map(ResultRow::imageIndex).toArray(Integer[]::new);
    Integer[] w = results.stream().map(ResultRow::width).toArray(Integer[]::new);
    Integer[] h = results.stream().map(ResultRow::height).toArray(Integer[]::new);
    String[] preds = results.stream().map(r -> r.predictions() == null ? "[]" : r.predictions().encode())
        .toArray(String[]::new);
    Integer[] n = results.stream().map(r -> r.predictions() == null ? 0 : r.predictions().size())
        .toArray(Integer[]::new);
    Double[] dec = results.stream().map(ResultRow::decodeMs).toArray(Double[]::new);
    Double[] pre = results.stream().map(ResultRow::preprocessMs).toArray(Double[]::new);
    Double[] inf = results.stream().map(ResultRow::inferenceMs).toArray(Double[]::new);
    Double[] post = results.stream().map(ResultRow::postprocessMs).toArray(Double[]::new);
    String[] err = results.stream().map(ResultRow::error).toArray(String[]::new);
    String[] code = results.stream().map(ResultRow::errorCode).toArray(String[]::new);
    String[] cls = results.stream().map(r -> r.classifications() == null ? null : r.classifications().encode())
        .toArray(String[]::new);
    String[] wk = workers.toArray(String[]::new);
    boolean due = progressDue;
    // The results go in first, without the job row: their foreign key is on the job's image rows, which no other
    // writer touches. Only the statement after them locks the job row, so that the writes of one job queue for
    // the length of one statement and the commit, not of the whole transaction.
    return conn.preparedQuery("""
            INSERT INTO image_results (job_id, image_index, width, height, predictions, num_detections,
              decode_time_ms, preprocessing_time_ms, inference_time_ms, postprocessing_time_ms, error, worker,
              error_code, classifications)
            SELECT $1, t.idx, t.w, t.h, t.p::jsonb, t.n, t.dec, t.pre, t.inf, t.post, t.err, t.wk, t.code,
                   t.cls::jsonb
            FROM unnest($2::int[], $3::int[], $4::int[], $5::text[], $6::int[], $7::float8[], $8::float8[],
                        $9::float8[], $10::float8[], $11::text[], $12::text[], $13::text[], $14::text[])
                 AS t(idx, w, h, p, n, dec, pre, inf, post, err, code, cls, wk)
            WHERE EXISTS (SELECT 1 FROM inference_jobs WHERE id = $1 AND status = 'running')
            ON CONFLICT (job_id, image_index) DO NOTHING
            RETURNING image_index, error, inference_time_ms""")
        .execute(Tuple.from(new Object[] {jobId, idx, w, h, preds, n, dec, pre, inf, post, err, code, cls, wk}))
        .compose(inserted -> {
          int count = 0;
          int failed = 0;
          double infSum = 0;
          java.util.Set<Integer> newIdx = new java.util.HashSet<>();
          for (Row r : inserted) {
            count++;
            newIdx.add(r.getInteger("image_index"));
            if (r.getString("error") != null) {
              failed++;
            } else if (r.getDouble("inference_time_ms") != null) {
              infSum += r.getDouble("inference_time_ms");
            }
          }
          JsonArray announced = new JsonArray();
          int[] perWrite = new int[group.size()];
          for (int g = 0; g < group.size(); g++) {
            for (ResultRow r : group.get(g).results()) {
              if (newIdx.remove(r.imageIndex())) { // removed: an image twice in a group is announced once
                perWrite[g]++;
                announced.add(new JsonObject().put("image_index", r.imageIndex()).put("image_name", r.imageName())
                    .put("num_detections", r.predictions() == null ? 0 : r.predictions().size())
                    .put("error", r.error()));
              }
            }
          }
          return countAndAnnounce(conn, jobId, count, failed, infSum, due, announced)
              .compose(counted -> {
                if (counted.isEmpty()) { // no longer running: what was inserted goes back with the transaction
                  return Future.failedFuture(new NotRunning());
                }
                Counted k = counted.get();
                writeStatements.add(k.progressEvent() ? 5 : 4);
                if (!k.progressEvent()) {
                  return Future.succeededFuture(new Outcome<>(new Written(k.job(), perWrite), k.events()));
                }
                return appendEvents(conn, k.job(), List.of(new NewEvent(JobEvent.PROGRESS, progress(k.job()))))
                    .map(p -> {
                      List<JobEvent> all = new ArrayList<>(k.events());
                      all.addAll(p);
                      return new Outcome<>(new Written(k.job(), perWrite), all);
                    });
              });
        });
  }

  /** A write found its job no longer running; its transaction is rolled back. */
  private static final class NotRunning extends RuntimeException {
    NotRunning() {
      super("job no longer running", null, false, false);
    }
  }

  /** Most images one {@code images} event lists, and about the most bytes of their entries: a large write is split. */
  static final int MAX_IMAGES_PER_EVENT = 256;
  static final int MAX_IMAGES_EVENT_BYTES = 32 * 1024;

  /** One {@code images} event's payload, and its JSON text (for the statement that stores it). */
  record ImagesPayload(JsonObject data, String text) {
  }

  /** The write's images as {@code images} event payloads, each within the limits above. */
  static List<ImagesPayload> imagesEvents(JsonArray images) {
    List<ImagesPayload> out = new ArrayList<>();
    StringBuilder text = new StringBuilder();
    JsonArray listed = new JsonArray();
    for (Object o : images) {
      String entry = ((JsonObject) o).encode();
      if (!listed.isEmpty() && (listed.size() == MAX_IMAGES_PER_EVENT
          || text.length() + entry.length() > MAX_IMAGES_EVENT_BYTES)) {
        out.add(new ImagesPayload(new JsonObject().put("images", listed), text.append("]}").toString()));
        text.setLength(0);
        listed = new JsonArray();
      }
      text.append(listed.isEmpty() ? "{\"images\":[" : ",").append(entry);
      listed.add(o);
    }
    if (!listed.isEmpty()) {
      out.add(new ImagesPayload(new JsonObject().put("images", listed), text.append("]}").toString()));
    }
    return out;
  }

  /** The job after a write's counters moved, the write's {@code images} events, and whether a progress event is due. */
  private record Counted(Job job, List<JobEvent> events, boolean progressEvent) {
  }

  /**
   * One statement: locks the job row while it is running, moves its counters, decides whether a progress event is
   * due (the job's last one at least {@link #PROGRESS_INTERVAL_MS} old, or the final count), and appends the
   * {@code images} events listing the images this transaction wrote (one, or several past one event's limits),
   * with the job's next sequence numbers. Empty when the job is not running.
   */
  private static Future<Optional<Counted>> countAndAnnounce(SqlConnection conn, long jobId, int count, int failed,
                                                            double infSum, boolean progressDue, JsonArray images) {
    List<ImagesPayload> payloads = imagesEvents(images);
    String[] data = payloads.stream().map(ImagesPayload::text).toArray(String[]::new);
    return conn.preparedQuery("""
            WITH u AS (UPDATE inference_jobs t SET processed_images = t.processed_images + $2,
                    failed_images = t.failed_images + $3, inference_time_ms_sum = t.inference_time_ms_sum + $4,
                    progress_at = CASE WHEN $5 AND $2 > 0 AND (t.progress_at IS NULL
                                    OR t.progress_at <= now() - make_interval(secs => $6)) THEN now()
                                  ELSE t.progress_at END,
                    event_seq = t.event_seq + cardinality($7::text[])
                  WHERE t.id = $1 AND t.status = 'running'
                  RETURNING t.*, ($5 AND $2 > 0 AND t.progress_at = now())
                                 OR ($2 > 0 AND t.processed_images >= t.total_images) AS progress_event),
            e AS (INSERT INTO job_events (job_id, seq, type, data)
                  SELECT $1, (u.event_seq - cardinality($7::text[]) + x.ord)::int, 'images', x.d::jsonb
                  FROM u, unnest($7::text[]) WITH ORDINALITY AS x(d, ord)
                  RETURNING id, seq)
            SELECT j.*, """ + WORKERS + """
             AS workers, (SELECT array_agg(id ORDER BY seq) FROM e) AS event_ids
            FROM u j""")
        .execute(Tuple.from(new Object[] {jobId, count, failed, infSum, progressDue, PROGRESS_INTERVAL_MS / 1000.0,
            data}))
        .map(rows -> first(rows).map(row -> {
          Job job = Job.from(row);
          Long[] ids = row.getArrayOfLongs("event_ids");
          List<JobEvent> events = new ArrayList<>(data.length);
          int firstSeq = job.eventSeq() - data.length + 1;
          for (int i = 0; i < data.length; i++) {
            events.add(new JobEvent(ids[i], job.id(), job.trainingJobId(), firstSeq + i, JobEvent.IMAGES,
                payloads.get(i).data(), job.tenant()));
          }
          return new Counted(job, events, row.getBoolean("progress_event"));
        }));
  }

  /**
   * Marks a chunk done; when it was the job's last open chunk, completes the job, or fails it when more than
   * {@code maxFailedRatio} of its images failed. The job row is locked first so two workers finishing the last two
   * chunks at once cannot both miss the completion.
   */
  public Future<Optional<Job>> finishChunk(ChunkLease lease, String workerId, double maxFailedRatio) {
    return inTx(conn -> conn.preparedQuery(
            "SELECT status, total_images, failed_images FROM inference_jobs WHERE id = $1 FOR UPDATE")
        .execute(Tuple.of(lease.jobId()))
        .compose(jobRows -> {
          if (jobRows.size() == 0) { // deleted while the worker held this chunk
            return Future.succeededFuture(new Outcome<>(Optional.<Job>empty(), List.<JobEvent>of()));
          }
          Row job = jobRows.iterator().next();
          return finishChunk(conn, lease, workerId, maxFailedRatio, JobStatus.of(job.getString("status")),
              job.getInteger("total_images"), job.getInteger("failed_images"));
        }));
  }

  /** {@link #finishChunk} with the job row already locked in this transaction, and its counters as they are now. */
  private Future<Outcome<Optional<Job>>> finishChunk(SqlConnection conn, ChunkLease lease, String workerId,
                                                     double maxFailedRatio, JobStatus status, int total, int failed) {
    // one statement: the chunk marked done, and how many others are still open (the update's own row is not yet
    // visible to the count, so it is left out by index)
    return conn.preparedQuery("""
            WITH done AS (UPDATE job_chunks SET state = 'done', processed_by = $3, lease_owner = NULL,
                                 lease_expires_at = NULL
                          WHERE job_id = $1 AND chunk_index = $2 AND state <> 'done')
            SELECT count(*) AS open FROM job_chunks WHERE job_id = $1 AND state <> 'done' AND chunk_index <> $2""")
        .execute(Tuple.of(lease.jobId(), lease.chunkIndex(), workerId))
        .compose(open -> {
          boolean last = open.iterator().next().getLong("open") == 0;
          if (!last || status != JobStatus.RUNNING) {
            return Future.succeededFuture(new Outcome<>(Optional.<Job>empty(), List.<JobEvent>of()));
          }
          if (total > 0 && (double) failed / total > maxFailedRatio) {
            return transition(conn, lease.jobId(), JobStatus.FAILED,
                failed + " of " + total + " images failed (more than the allowed ratio " + maxFailedRatio + ")");
          }
          return transition(conn, lease.jobId(), JobStatus.COMPLETED, null);
        });
  }

  // ---------------------------------------------------------------- events

  /** Records the class names of the model a job runs, once (exports name their categories from them). */
  public Future<Void> recordClassNames(long jobId, List<String> names) {
    return pool.preparedQuery("UPDATE inference_jobs SET class_names = $2 WHERE id = $1 AND class_names IS NULL")
        .execute(Tuple.of(jobId, new io.vertx.core.json.JsonArray(new ArrayList<>(names)))).mapEmpty();
  }

  /** Counters, rate since the job started and an estimate of the time left. */
  static JsonObject progress(Job job) {
    double elapsed = job.startedAt() == null ? 0
        : java.time.Duration.between(job.startedAt(), java.time.OffsetDateTime.now()).toMillis() / 1000.0;
    double rate = elapsed > 0 ? job.processedImages() / elapsed : 0;
    int left = job.totalImages() - job.processedImages();
    return new JsonObject()
        .put("processed_images", job.processedImages())
        .put("failed_images", job.failedImages())
        .put("total_images", job.totalImages())
        .put("progress", job.progress())
        .put("images_per_second", Math.round(rate * 100) / 100.0)
        .put("eta_seconds", rate > 0 ? Math.round(left / rate * 10) / 10.0 : null);
  }

  /** Events of one job with {@code seq > afterSeq}, in order: at most {@code limit}, and about {@code maxBytes}. */
  public Future<EventPage> eventsOfJob(long jobId, int afterSeq, int limit, int maxBytes) {
    // the page is cut at maxBytes of event data too (the first event always comes): an images event holds up to
    // 32 KB, and a replaying stream should not hold a thousand of them at once
    return pool.preparedQuery("""
            WITH page AS (SELECT e.id, e.job_id, e.seq, e.type, e.data, octet_length(e.data::text) AS size
                          FROM job_events e
                          WHERE e.job_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3),
                 sized AS (SELECT p.*, sum(p.size) OVER (ORDER BY p.seq) AS upto, count(*) OVER () AS n
                           FROM page p)
            SELECT s.id, s.job_id, j.training_job_id, s.seq, s.type, s.data, j.tenant, s.n FROM sized s
            JOIN inference_jobs j ON j.id = s.job_id
            WHERE s.upto - s.size < $4 ORDER BY s.seq""")
        .execute(Tuple.of(jobId, afterSeq, limit, maxBytes)).map(rows -> {
          List<JobEvent> events = events(rows);
          long read = rows.size() == 0 ? 0 : rows.iterator().next().getLong("n");
          return new EventPage(events, events.size() < read, read == limit);
        });
  }

  /**
   * A page of a job's stored events. {@code cut}: it was cut at its byte budget, so later events exist. {@code full}:
   * it holds as many as were asked for, so later events may exist.
   */
  public record EventPage(List<JobEvent> events, boolean cut, boolean full) {
  }

  /**
   * Status and terminal events of the jobs a tenant may see (of one training job when given) with
   * {@code id > afterId}.
   */
  public Future<List<JobEvent>> statusEventsAfter(TenantFilter tenant, Long trainingJobId, long afterId, int limit) {
    return pool.preparedQuery("""
            SELECT e.id, e.job_id, j.training_job_id, e.seq, e.type, e.data, j.tenant FROM job_events e
            JOIN inference_jobs j ON j.id = e.job_id
            WHERE e.id > $1 AND e.type NOT IN ('progress', 'images', 'image') -- 'image': one per image, as stored once
              AND ($2::bigint IS NULL OR j.training_job_id = $2)
              AND ($4::boolean OR j.tenant = $5)
            ORDER BY e.id LIMIT $3""")
        .execute(Tuple.of(afterId, trainingJobId, limit, tenant.all(), tenant.tenant())).map(JobRepository::events);
  }

  /** {@code job:<status>} and {@code chunk:<state>} (open chunks only) to their counts, for the metrics gauges. */
  public Future<java.util.Map<String, Long>> stateCounts() {
    return pool.query("""
            SELECT 'job:' || status AS k, count(*) AS n FROM inference_jobs GROUP BY status
            UNION ALL
            SELECT 'chunk:' || state, count(*) FROM job_chunks WHERE state <> 'done' GROUP BY state""").execute()
        .map(rows -> {
          java.util.Map<String, Long> out = new java.util.HashMap<>();
          rows.forEach(r -> out.put(r.getString("k"), r.getLong("n")));
          return out;
        });
  }

  public Future<Long> lastEventId() {
    return pool.query("SELECT coalesce(max(id), 0) AS id FROM job_events").execute()
        .map(rows -> rows.iterator().next().getLong("id"));
  }

  private static List<JobEvent> events(RowSet<Row> rows) {
    List<JobEvent> out = new ArrayList<>();
    for (Row r : rows) {
      out.add(new JobEvent(r.getLong("id"), r.getLong("job_id"), r.getLong("training_job_id"), r.getInteger("seq"),
          r.getString("type"), (JsonObject) r.getJson("data"), r.getString("tenant")));
    }
    return out;
  }

  // ---------------------------------------------------------------- helpers

  private record Outcome<T>(T value, List<JobEvent> events) {
  }

  private <T> Future<T> inTx(java.util.function.Function<SqlConnection, Future<Outcome<T>>> work) {
    return pool.withTransaction(work::apply).map(outcome -> {
      if (!outcome.events().isEmpty()) {
        sink.publish(outcome.events());
      }
      return outcome.value();
    });
  }

  /**
   * Runs {@code update}, an UPDATE of at most one row of {@code inference_jobs} (without RETURNING),
   * and gives the row as updated, with its workers, in the same round trip; empty when no row matched.
   */
  private static Future<Optional<Job>> updateJob(SqlClient conn, String update, Tuple args) {
    return conn.preparedQuery("WITH j AS (" + update + " RETURNING *) SELECT j.*, " + WORKERS + " AS workers FROM j")
        .execute(args).map(rows -> first(rows).map(Job::from));
  }

  /** Appends events with the job's next sequence numbers, in one statement (the job row's update locks it). */
  private static Future<List<JobEvent>> appendEvents(SqlConnection conn, Job job, List<NewEvent> events) {
    if (events.isEmpty()) {
      return Future.succeededFuture(List.of());
    }
    String[] types = new String[events.size()];
    String[] data = new String[events.size()];
    for (int i = 0; i < events.size(); i++) {
      types[i] = events.get(i).type();
      data[i] = events.get(i).data().encode();
    }
    return conn.preparedQuery("""
            WITH s AS (UPDATE inference_jobs SET event_seq = event_seq + $2::int WHERE id = $1 RETURNING event_seq)
            INSERT INTO job_events (job_id, seq, type, data)
            SELECT $1, (s.event_seq - $2::int + t.ord)::int, t.ty, t.d::jsonb
            FROM s, unnest($3::text[], $4::text[]) WITH ORDINALITY AS t(ty, d, ord)
            RETURNING id, seq""")
        .execute(Tuple.of(job.id(), events.size(), types, data))
        .map(inserted -> {
          long[] ids = new long[events.size()];
          int[] seqs = new int[events.size()];
          int firstSeq = Integer.MAX_VALUE;
          for (Row r : inserted) {
            firstSeq = Math.min(firstSeq, r.getInteger("seq"));
          }
          for (Row r : inserted) {
            int k = r.getInteger("seq") - firstSeq;
            ids[k] = r.getLong("id");
            seqs[k] = r.getInteger("seq");
          }
          List<JobEvent> out = new ArrayList<>();
          for (int i = 0; i < events.size(); i++) {
            out.add(new JobEvent(ids[i], job.id(), job.trainingJobId(), seqs[i], types[i], events.get(i).data(),
                job.tenant()));
          }
          return out;
        });
  }

  static Optional<Row> first(RowSet<Row> rows) {
    var it = rows.iterator();
    return it.hasNext() ? Optional.of(it.next()) : Optional.empty();
  }

}
