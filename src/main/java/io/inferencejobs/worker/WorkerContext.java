package io.inferencejobs.worker;

import io.inferencejobs.config.AppConfig;
import io.inferencejobs.jobs.JobRepository;
import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.support.BoundedExecutor;
import io.vertx.sqlclient.Pool;

/** What a worker node needs, built once by the node and shared by its device verticles. */
public record WorkerContext(AppConfig config, Pool pool, JobRepository jobs, S3Storage storage, BoundedExecutor io,
                            BoundedExecutor decode, String nodeId, io.inferencejobs.metrics.Metrics metrics) {
}
