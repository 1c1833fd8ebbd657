package io.inferencejobs.api;

import io.inferencejobs.config.AppConfig;
import io.inferencejobs.jobs.JobRepository;
import io.inferencejobs.jobs.TrainingJobRepository;
import io.inferencejobs.jobs.UploadRepository;
import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.support.BoundedExecutor;
import io.vertx.sqlclient.Pool;

/** What the HTTP layer needs, built once by the node */
public record ApiContext(AppConfig config, Pool pool, S3Storage storage, JobRepository jobs,
                         TrainingJobRepository trainingJobs, UploadRepository uploads, BoundedExecutor io,
                         io.inferencejobs.metrics.Metrics metrics) {
}
