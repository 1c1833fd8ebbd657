package io.inferencejobs.api;

import io.inferencejobs.jobs.UploadRepository.Stale;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Leaves nothing of unfinished uploads behind. At start it empties the node's upload spool (files of requests that
 * were in flight when the process died); then, periodically, it removes the S3 objects of upload sessions that never
 * committed (their node died between copying and committing) once they are older than {@code upload_sweep_seconds}.
 * Sessions are claimed with a lease, so several API nodes never sweep the same one at once.
 */
final class UploadSweeper {
  private static final Logger LOG = LoggerFactory.getLogger(UploadSweeper.class);
  private static final int BATCH = 20;
  private static final int CLAIM_SECONDS = 300;

  private final Vertx vertx;
  private final ApiContext api;
  private long timer = -1;

  UploadSweeper(Vertx vertx, ApiContext api) {
    this.vertx = vertx;
    this.api = api;
  }

  Future<Void> start() {
    Path spool = UploadHandler.spoolDir(api);
    return vertx.<Integer>executeBlocking(() -> {
      Files.createDirectories(spool);
      int removed = 0;
      try (Stream<Path> files = Files.list(spool)) {
        for (Path f : files.toList()) {
          if (Files.isRegularFile(f) && Files.deleteIfExists(f)) {
            removed++;
          }
        }
      }
      return removed;
    }, false).map(removed -> {
      if (removed > 0) {
        LOG.info("removed {} upload spool files left by an earlier run", removed);
      }
      long period = Math.max(10, Math.min(300, api.config().limits().uploadSweepSeconds() / 4)) * 1000L;
      timer = vertx.setPeriodic(period, id -> sweep());
      return null;
    });
  }

  void stop() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
  }

  /** One pass: claims stale sessions, removes their objects, forgets them. Returns how many were swept. */
  Future<Integer> sweep() {
    return api.uploads().claimStale(BATCH, CLAIM_SECONDS).compose(stale -> {
      List<Future<Void>> each = new ArrayList<>();
      for (Stale s : stale) {
        S3Uri prefix = S3Uri.parse(s.s3Prefix()).filter(p -> p.key().startsWith("inference/")).orElse(null);
        if (prefix == null) {
          // not a prefix this service writes uploads to: nothing to delete there, only the row to forget
          each.add(api.uploads().abandon(s.id()));
          continue;
        }
        each.add(api.storage().listKeys(prefix, 1_000_000)
            .compose(keys -> api.storage().delete(prefix.bucket(), keys))
            .compose(v -> api.uploads().abandon(s.id()))
            .onSuccess(v -> LOG.info("swept the objects of upload session {}, which never committed", s.id())));
      }
      return Future.join(each).map(all -> stale.size());
    }).onFailure(err -> LOG.warn("upload sweep failed (retried on the next pass): {}", err.toString()));
  }
}
