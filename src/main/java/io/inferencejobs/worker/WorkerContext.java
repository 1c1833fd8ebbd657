package io.inferencejobs.worker;

import io.inferencejobs.config.AppConfig;
import io.inferencejobs.jobs.ChunkRepository;
import io.inferencejobs.jobs.JobRepository;
import io.inferencejobs.jobs.WorkerRepository;
import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.support.BoundedExecutor;

/**
 * What a worker node needs, built once by the node and shared by its device verticles. {@code storage} reads through
 * the worker's own S3 pool, so that uploads on a node that also serves the API cannot starve it (nor it them).
 */
public record WorkerContext(AppConfig config, JobRepository jobs, ChunkRepository chunks, WorkerRepository workers,
                            S3Storage storage, BoundedExecutor decode, String nodeId,
                            io.inferencejobs.metrics.Metrics metrics) {
}
