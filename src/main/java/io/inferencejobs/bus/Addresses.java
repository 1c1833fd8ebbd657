package io.inferencejobs.bus;

/** Every event-bus address, in one place. The bus carries notifications; PostgreSQL holds the work. */
public final class Addresses {
  /** Published when a job has new work (created, or chunks handed back): workers wake up and lease. */
  public static final String JOBS_WORK = "jobs.work";
  /** Published for every persisted job event; every API node fans them out to its SSE clients. */
  public static final String JOBS_EVENTS = "jobs.events";

  /**
   * Request-reply: {@code {"s3_uri"}} asks a worker (any) to load a checkpoint and say what it found inside; the reply
   * is {@link CheckpointInfo} as JSON, or a failure with code 422 (not a model the engine reads) or 503.
   */
  public static final String CHECKPOINTS_INSPECT = "checkpoints.inspect";
  /** Published (to every node) with a training job's id after it changed: cached copies are dropped. */
  public static final String TRAINING_JOBS_CHANGED = "training-jobs.changed";

  private Addresses() {
  }
}
