package io.inferencejobs.api;

import io.inferencejobs.jobs.JobService;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Retention: every {@code retention_sweep_seconds}, deletes jobs that ended more than {@code retention_days} days ago
 * (as DELETE does: results, events, deliveries, and the uploaded images no other job uses) and upload sessions as old
 * whose images no job uses. Off when {@code retention_days} is 0. Several API nodes may sweep at once: each job is
 * deleted under its row lock, once.
 */
public final class RetentionSweeper {
  private static final Logger LOG = LoggerFactory.getLogger(RetentionSweeper.class);
  private static final int BATCH = 100;

  private final Vertx vertx;
  private final ApiContext api;
  private final JobService service;
  private long timer = -1;
  private boolean running;

  RetentionSweeper(Vertx vertx, ApiContext api) {
    this.vertx = vertx;
    this.api = api;
    this.service = new JobService(api.config(), api.storage(), api.jobs(), api.trainingJobs(), api.uploads(),
        url -> Future.succeededFuture());
  }

  void start() {
    int days = api.config().results().retentionDays();
    if (days > 0) {
      timer = vertx.setPeriodic(api.config().results().retentionSweepSeconds() * 1000L, id -> {
        if (!running) {
          running = true;
          sweep(days).onComplete(ar -> running = false);
        }
      });
    }
  }

  void stop() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
  }

  /** One pass with a retention of {@code days} days; returns how many jobs and upload sessions' files it removed. */
  public Future<Integer> sweep(int days) {
    return jobs(days, 0).compose(jobs -> uploads(days).map(files -> {
      if (jobs > 0 || files > 0) {
        LOG.info("retention ({} days): deleted {} jobs and {} unused uploaded images", days, jobs, files);
      }
      return jobs + files;
    })).onFailure(err -> LOG.warn("retention sweep failed (tried again on the next pass): {}", err.toString()));
  }

  private Future<Integer> jobs(int days, int done) {
    return api.jobs().endedBefore(days, BATCH).compose(ids -> {
      Future<Integer> chain = Future.succeededFuture(done);
      for (long id : ids) {
        chain = chain.compose(n -> service.purge(id)
            .map(deleted -> n + (deleted.isPresent() ? 1 : 0))
            .recover(err -> {
              LOG.warn("retention: {}", err.getMessage());
              return Future.succeededFuture(n + 1);
            }));
      }
      return chain.compose(n -> ids.size() == BATCH ? jobs(days, n) : Future.succeededFuture(n));
    });
  }

  private Future<Integer> uploads(int days) {
    return api.uploads().forgetUnused(days, BATCH).compose(uris -> {
      Map<String, List<String>> byBucket = new HashMap<>();
      for (String uri : uris) {
        S3Uri.parse(uri).ifPresent(u -> byBucket.computeIfAbsent(u.bucket(), b -> new ArrayList<>()).add(u.key()));
      }
      List<Future<Void>> removals = new ArrayList<>();
      byBucket.forEach((bucket, keys) -> removals.add(api.storage().delete(bucket, keys)));
      return Future.all(removals).map(all -> uris.size());
    });
  }
}
