package io.inferencejobs.api;

import io.inferencejobs.config.AppConfig;
import io.inferencejobs.jobs.JobRepository;
import io.inferencejobs.jobs.TrainingJobRepository;
import io.inferencejobs.jobs.UploadRepository;
import io.inferencejobs.jobs.WorkerRepository;
import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.support.BoundedExecutor;

/** What the HTTP layer needs, built once by the node: repositories and storage, never the pool itself. */
public record ApiContext(AppConfig config, S3Storage storage, JobRepository jobs, TrainingJobRepository trainingJobs,
                         UploadRepository uploads, WorkerRepository workers, BoundedExecutor io,
                         io.inferencejobs.metrics.Metrics metrics, io.inferencejobs.jobs.DeliveryRepository deliveries) {
}
