package io.inferencejobs.jobs;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import io.vertx.sqlclient.Tuple;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Chunk retries in-process against a real PostgreSQL: a chunk handed back after a transient fault waits out its
 * backoff, keeps its cause and is leased again (by anyone) with one more attempt; a heartbeat extends only the chunks a
 * worker is working on, so one it failed to hand back expires.
 */
@ExtendWith(VertxExtension.class)
class ChunkRepositoryTest {
  static Stores stores;
  static JobRepository jobs;
  static ChunkRepository chunks;

  @BeforeAll
  static void start() {
    stores = Stores.get();
    jobs = new JobRepository(stores.pool, events -> { });
    chunks = new ChunkRepository(stores.pool);
    Stores.await(new TrainingJobRepository(stores.pool).upsert("chunk-tests", "detection", null, new JsonObject()));
    // earlier tests' jobs must not be leased here
    Stores.await(stores.pool.query("UPDATE inference_jobs SET status = 'cancelled' WHERE status IN ('pending', "
        + "'running')").execute());
  }

  /** A job of {@code chunks} one-image chunks. */
  static Future<Job> job(int count) {
    List<ImageRef> images = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      images.add(new ImageRef(i, "s3://inference-jobs/x/" + i + ".jpg", i + ".jpg"));
    }
    long trainingJob = Stores.await(stores.pool.query("SELECT min(id) AS id FROM training_jobs").execute()).iterator()
        .next().getLong("id");
    return jobs.create(new NewJob(trainingJob, "pretrained", "s3://inference-jobs/m.onnx", "batch", "detection",
        new JsonObject(), null, "h", null, null, null, null), images, 1, 0);
  }

  static Future<Double> secondsLeft(ChunkLease lease) {
    return stores.pool.preparedQuery("SELECT extract(epoch FROM lease_expires_at - now()) AS s FROM job_chunks "
            + "WHERE job_id = $1 AND chunk_index = $2").execute(Tuple.of(lease.jobId(), lease.chunkIndex()))
        .map(rows -> rows.iterator().next().getDouble("s"));
  }

  @Test
  void aChunkHandedBackWaitsOutItsBackoffAndIsLeasedAgainWithItsCause(VertxTestContext tc) {
    String worker = "w-" + UUID.randomUUID();
    job(1).compose(j -> chunks.lease(worker, 30))
        .compose(first -> {
          tc.verify(() -> assertThat(first.orElseThrow().attempts()).isEqualTo(1));
          return chunks.retryLater(first.orElseThrow(), worker, 3_600_000, "S3 unreachable").map(first.get());
        })
        // within its backoff nobody gets it
        .compose(first -> chunks.lease("another", 30).map(none -> {
          tc.verify(() -> assertThat(none).isEmpty());
          return first;
        }))
        // the backoff over (moved into the past here), anyone gets it, with the cause and one more attempt
        .compose(first -> stores.pool.preparedQuery("UPDATE job_chunks SET not_before = now() - interval '1 s' "
            + "WHERE job_id = $1").execute(Tuple.of(first.jobId())).map(first))
        .compose(first -> chunks.lease("another", 30).map(again -> {
          tc.verify(() -> {
            assertThat(again.orElseThrow().jobId()).isEqualTo(first.jobId());
            assertThat(again.get().attempts()).isEqualTo(2);
            assertThat(again.get().lastError()).isEqualTo("S3 unreachable");
          });
          return again.get();
        }))
        // only the holder of a lease can hand it back
        .compose(again -> chunks.retryLater(again, worker, 0, "not mine"))
        .onComplete(tc.succeeding(handedBack -> tc.verify(() -> {
          assertThat(handedBack).isFalse();
          tc.completeNow();
        })));
  }

  @Test
  void aHeartbeatExtendsOnlyTheChunksInHand(VertxTestContext tc) {
    String worker = "w-" + UUID.randomUUID();
    job(2).compose(j -> chunks.lease(worker, 5))
        .compose(a -> chunks.lease(worker, 5).map(b -> List.of(a.orElseThrow(), b.orElseThrow())))
        .compose(both -> chunks.extend(worker, List.of(both.get(0)), 300).map(n -> {
          tc.verify(() -> assertThat(n).isEqualTo(1));
          return both;
        }))
        .compose(both -> Future.all(secondsLeft(both.get(0)), secondsLeft(both.get(1))))
        .onComplete(tc.succeeding(left -> tc.verify(() -> {
          assertThat((Double) left.resultAt(0)).isGreaterThan(200);
          assertThat((Double) left.resultAt(1)).isLessThanOrEqualTo(5);
          tc.completeNow();
        })));
  }
  @Test
  void leasesAskedForAtOnceGoTogetherAndEachWorkerGetsAChunkOfItsOwn(VertxTestContext tc) {
    String run = UUID.randomUUID().toString();
    Stores.await(stores.pool.query("UPDATE inference_jobs SET status = 'cancelled' WHERE status IN ('pending', "
        + "'running')").execute());
    ChunkRepository node = new ChunkRepository(stores.pool);
    Job job = Stores.await(job(3));
    // five workers of one node ask at once: the first is leased alone, the four that waited in one statement, and
    // the job has only three chunks
    List<Future<java.util.Optional<ChunkLease>>> asked = new ArrayList<>();
    for (int w = 0; w < 5; w++) {
      asked.add(node.lease(run + "-" + w, 30));
    }
    Future.all(asked).compose(all -> stores.pool.preparedQuery(
            "SELECT chunk_index, lease_owner FROM job_chunks WHERE job_id = $1 AND state = 'leased'")
        .execute(Tuple.of(job.id())))
        .onComplete(tc.succeeding(rows -> tc.verify(() -> {
          java.util.Map<Integer, String> owners = new java.util.HashMap<>();
          rows.forEach(r -> owners.put(r.getInteger("chunk_index"), r.getString("lease_owner")));
          assertThat(owners).hasSize(3);
          List<Integer> leased = new ArrayList<>();
          for (int w = 0; w < 5; w++) {
            java.util.Optional<ChunkLease> got = asked.get(w).result();
            if (got.isPresent()) {
              assertThat(got.get().jobId()).isEqualTo(job.id());
              assertThat(owners.get(got.get().chunkIndex())).as("owner of chunk %d", got.get().chunkIndex())
                  .isEqualTo(run + "-" + w);
              leased.add(got.get().chunkIndex());
            }
          }
          assertThat(asked.get(0).result()).as("the first, asked alone").isPresent();
          assertThat(leased).containsExactlyInAnyOrder(0, 1, 2);
          tc.completeNow();
        })));
  }
}
