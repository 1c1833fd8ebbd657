package io.inferencejobs.it;

import io.inferencejobs.jobs.ChunkLease;
import io.inferencejobs.jobs.ImageRef;
import io.inferencejobs.jobs.Job;
import io.inferencejobs.jobs.JobRepository;
import io.inferencejobs.jobs.JobStatus;
import io.inferencejobs.jobs.NewJob;
import io.inferencejobs.jobs.ResultRow;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Result writes of one job from many workers on two nodes at once, against the real PostgreSQL: the writes that wait
 * on a node go together in one transaction, and every image still counts once, is listed in one event and gets one result.
 */
class ResultWritesIT extends SharedServiceIT {

  static final int CHUNKS = 6;
  static final int CHUNK = 100;
  static final int BATCH = 10;

  /** A running job of {@code images} images whose chunks are held by the test, so no worker of the node runs it. */
  static Job runningJob(JobRepository repo, int images, int chunkSize) {
    List<ImageRef> refs = new ArrayList<>();
    for (int i = 0; i < images; i++) {
      refs.add(new ImageRef(i, "s3://inference-jobs/none/" + i + ".jpg", i + ".jpg"));
    }
    long trainingJob = Api.await(node.pool().query("SELECT id FROM training_jobs ORDER BY id LIMIT 1").execute())
        .iterator().next().getLong("id");
    Job job = Api.await(repo.create(new NewJob(trainingJob, "pretrained", "s3://inference-jobs/none.onnx", "batch",
        "detection", new JsonObject(), null, null, null, null, null, null), refs, chunkSize, 0));
    Api.await(node.pool().preparedQuery("UPDATE job_chunks SET state = 'leased', lease_owner = 'test', "
        + "lease_expires_at = now() + interval '1 hour' WHERE job_id = $1").execute(Tuple.of(job.id())));
    return Api.await(repo.transition(job.id(), JobStatus.RUNNING, null)).orElseThrow();
  }

  static ResultRow row(int index, String error) {
    JsonArray predictions = error != null ? new JsonArray() : new JsonArray().add(new JsonObject()
        .put("class_id", 16).put("class_name", "dog").put("confidence", 0.9)
        .put("bbox", new JsonObject().put("x1", 1.0).put("y1", 2.0).put("x2", 30.0).put("y2", 40.0)));
    return new ResultRow(index, index + ".jpg", 64, 48, predictions, 1.0, 1.0, 2.0, 1.0, error, null);
  }

  /** Writes a chunk's images in batches, its last batch through writeLastResults; gives what each write did. */
  static Future<List<JobRepository.LastWrite>> writeChunk(JobRepository repo, ChunkLease lease, String worker,
                                                           int from, List<JobRepository.LastWrite> done) {
    int to = Math.min(lease.endIndex(), from + BATCH);
    List<ResultRow> rows = new ArrayList<>();
    for (int i = from; i < to; i++) {
      rows.add(row(i, i % 25 == 0 ? "corrupt image" : null));
    }
    if (to == lease.endIndex()) {
      return repo.writeLastResults(lease, worker, rows, true, 1.0).map(w -> {
        done.add(w);
        return done;
      });
    }
    return repo.writeResults(lease.jobId(), worker, rows, true).compose(w -> {
      done.add(new JobRepository.LastWrite(w, Optional.empty()));
      return writeChunk(repo, lease, worker, to, done);
    });
  }

  @Test
  void manyWritersOfOneJobOnTwoNodesCountEveryImageOnceAndTheJobEndsOnce() {
    // two nodes (two repositories, as two processes have); every chunk written by one worker of each, so that every
    // image is written twice, as when a lease expired and another worker ran the chunk again
    JobRepository nodeA = new JobRepository(node.pool(), events -> { });
    JobRepository nodeB = new JobRepository(node.pool(), events -> { });
    Job job = runningJob(nodeA, CHUNKS * CHUNK, CHUNK);
    List<Future<List<JobRepository.LastWrite>>> writers = new ArrayList<>();
    for (int c = 0; c < CHUNKS; c++) {
      ChunkLease lease = new ChunkLease(job.id(), c, c * CHUNK, (c + 1) * CHUNK, 1, null);
      writers.add(writeChunk(nodeA, lease, "a-" + c, c * CHUNK, new ArrayList<>()));
      writers.add(writeChunk(nodeB, lease, "b-" + c, c * CHUNK, new ArrayList<>()));
    }
    Api.await(Future.all(writers));
    List<JobRepository.LastWrite> all = new ArrayList<>();
    writers.forEach(w -> all.addAll(w.result()));

    int images = CHUNKS * CHUNK;
    int failed = images / 25;
    assertThat(all).hasSize(2 * images / BATCH);
    assertThat(all.stream().mapToInt(w -> w.write().inserted()).sum()).as("rows inserted, over all writes")
        .isEqualTo(images);
    assertThat(all.stream().filter(w -> w.finished().isPresent()).toList()).as("writes that ended the job")
        .hasSize(1).allSatisfy(w -> assertThat(w.finished().get().status()).isEqualTo(JobStatus.COMPLETED));
    // the writes that waited on a node went together: fewer transactions than writes, on both nodes
    assertThat(nodeA.writeCounts()[0]).isLessThan(images / BATCH).isGreaterThan(0);
    assertThat(nodeB.writeCounts()[0]).isLessThan(images / BATCH).isGreaterThan(0);

    Row counts = Api.await(node.pool().preparedQuery("""
            SELECT j.status, j.processed_images, j.failed_images, j.event_seq,
                   (SELECT count(*) FROM image_results r WHERE r.job_id = j.id) AS results,
                   (SELECT count(DISTINCT r.image_index) FROM image_results r WHERE r.job_id = j.id) AS distinct_results,
                   (SELECT count(*) FROM image_results r WHERE r.job_id = j.id AND r.error IS NOT NULL) AS errors,
                   (SELECT count(*) FROM job_chunks c WHERE c.job_id = j.id AND c.state <> 'done') AS open_chunks
            FROM inference_jobs j WHERE j.id = $1""").execute(Tuple.of(job.id()))).iterator().next();
    assertThat(counts.getString("status")).isEqualTo("completed");
    assertThat(counts.getInteger("processed_images")).isEqualTo(images);
    assertThat(counts.getInteger("failed_images")).isEqualTo(failed);
    assertThat(counts.getLong("results")).isEqualTo(images);
    assertThat(counts.getLong("distinct_results")).isEqualTo(images);
    assertThat(counts.getLong("errors")).isEqualTo(failed);
    assertThat(counts.getLong("open_chunks")).isZero();

    // every image listed once in the images events, one event per transaction at most (not one per image), and
    // the job's events numbered 1, 2, 3 ... without a gap or a repeat
    List<Integer> seqs = new ArrayList<>();
    List<Integer> imageIndexes = new ArrayList<>();
    List<String> types = new ArrayList<>();
    Api.await(node.pool().preparedQuery("SELECT seq, type, data FROM job_events WHERE job_id = $1 ORDER BY seq")
        .execute(Tuple.of(job.id()))).forEach(r -> {
          seqs.add(r.getInteger("seq"));
          types.add(r.getString("type"));
          if (r.getString("type").equals("images")) {
            ((JsonObject) r.getJson("data")).getJsonArray("images")
                .forEach(i -> imageIndexes.add(((JsonObject) i).getInteger("image_index")));
          }
        });
    for (int i = 0; i < seqs.size(); i++) {
      assertThat(seqs.get(i)).as("event %d of %s", i, seqs).isEqualTo(i + 1);
    }
    assertThat(seqs.get(seqs.size() - 1)).isEqualTo(counts.getInteger("event_seq"));
    assertThat(imageIndexes).hasSize(images).doesNotHaveDuplicates();
    assertThat(types.stream().filter(t -> t.equals("images")).count()).as("images events")
        .isPositive().isLessThanOrEqualTo(nodeA.writeCounts()[0] + nodeB.writeCounts()[0]);
    assertThat(types.stream().filter(t -> t.equals("completed")).count()).isEqualTo(1);
    assertThat(types.get(types.size() - 1)).isEqualTo("completed");
  }

  @Test
  void aWriteAfterTheJobWasCancelledWritesNothingAndSaysStop() {
    JobRepository repo = new JobRepository(node.pool(), events -> { });
    Job job = runningJob(repo, 20, 20);
    var first = Api.await(repo.writeResults(job.id(), "w", List.of(row(0, null), row(1, null)), true));
    assertThat(first.keepGoing()).isTrue();
    assertThat(first.inserted()).isEqualTo(2);
    Api.await(repo.transition(job.id(), JobStatus.CANCELLED, null));

    var late = Api.await(repo.writeResults(job.id(), "w", List.of(row(2, null), row(3, null)), true));
    var lateLast = Api.await(repo.writeLastResults(new ChunkLease(job.id(), 0, 0, 20, 1, null), "w",
        List.of(row(4, null)), true, 1.0));
    assertThat(late.keepGoing()).isFalse();
    assertThat(lateLast.write().keepGoing()).isFalse();
    assertThat(lateLast.finished()).isEmpty();
    Row counts = Api.await(node.pool().preparedQuery("""
            SELECT j.status, j.processed_images,
                   (SELECT count(*) FROM image_results r WHERE r.job_id = j.id) AS results,
                   (SELECT sum(jsonb_array_length(e.data -> 'images')) FROM job_events e
                    WHERE e.job_id = j.id AND e.type = 'images') AS listed_images,
                   (SELECT count(*) FROM job_chunks c WHERE c.job_id = j.id AND c.state = 'done') AS done_chunks
            FROM inference_jobs j WHERE j.id = $1""").execute(Tuple.of(job.id()))).iterator().next();
    assertThat(counts.getString("status")).isEqualTo("cancelled");
    assertThat(counts.getInteger("processed_images")).isEqualTo(2);
    assertThat(counts.getLong("results")).isEqualTo(2);
    assertThat(counts.getNumeric("listed_images").intValue()).isEqualTo(2);
    assertThat(counts.getLong("done_chunks")).isZero();
  }

  @Test
  void aWriteForADeletedJobSaysStopInsteadOfFailing() {
    JobRepository repo = new JobRepository(node.pool(), events -> { });
    Job job = runningJob(repo, 5, 5);
    Api.await(repo.transition(job.id(), JobStatus.CANCELLED, null));
    assertThat(Api.await(repo.delete(job.id()))).isPresent();
    var late = Api.await(repo.writeResults(job.id(), "w", List.of(row(0, null)), true));
    assertThat(late.keepGoing()).isFalse();
    assertThat(Api.await(node.pool().preparedQuery("SELECT count(*) AS n FROM image_results WHERE job_id = $1")
        .execute(Tuple.of(job.id()))).iterator().next().getLong("n")).isZero();
  }

  @Test
  void aLargeWriteIsListedInImagesEventsOfBoundedSizeNumberedInOrder() {
    JobRepository repo = new JobRepository(node.pool(), events -> { });
    Job job = runningJob(repo, 600, 600);
    List<ResultRow> rows = new ArrayList<>();
    for (int i = 0; i < 600; i++) {
      rows.add(row(i, null));
    }
    List<io.inferencejobs.bus.JobEvent> published = new ArrayList<>();
    JobRepository watched = new JobRepository(node.pool(), published::addAll);
    assertThat(Api.await(watched.writeResults(job.id(), "w", rows, false)).inserted()).isEqualTo(600);

    List<Integer> sizes = new ArrayList<>();
    List<Integer> listed = new ArrayList<>();
    List<Integer> seqs = new ArrayList<>();
    Api.await(node.pool().preparedQuery("SELECT seq, data FROM job_events WHERE job_id = $1 AND type = 'images' "
        + "ORDER BY seq").execute(Tuple.of(job.id()))).forEach(r -> {
          JsonArray images = ((JsonObject) r.getJson("data")).getJsonArray("images");
          seqs.add(r.getInteger("seq"));
          sizes.add(images.size());
          images.forEach(i -> listed.add(((JsonObject) i).getInteger("image_index")));
        });
    // 256 + 256 + 88, in the order written, numbered one after the other
    assertThat(sizes).containsExactly(256, 256, 88);
    assertThat(listed).hasSize(600).isSorted().doesNotHaveDuplicates();
    assertThat(seqs.get(1)).isEqualTo(seqs.get(0) + 1);
    assertThat(seqs.get(2)).isEqualTo(seqs.get(0) + 2);
    // and the same three were published, with their stored ids and numbers
    assertThat(published.stream().filter(e -> e.type().equals("images")).map(io.inferencejobs.bus.JobEvent::seq))
        .containsExactlyElementsOf(seqs);
  }
}
