package io.inferencejobs.it;

import io.inferencejobs.it.Api.Sse;
import io.inferencejobs.it.Api.Stream;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.inferencejobs.it.Api.INF;
import static org.assertj.core.api.Assertions.assertThat;

/** Job status pushed over Server-Sent Events, read as it arrives by a real streaming client. */
class EventStreamIT extends SharedServiceIT {
  static String dogUri;

  @BeforeAll
  static void uploadDog() {
    dogUri = api.upload(1, List.of(Map.entry("dog.jpg", JobFlowIT.IMAGES.resolve("dog.jpg")))).bodyAsJsonObject()
        .getJsonArray("uploaded_files").getJsonObject(0).getString("s3_uri");
  }

  static long job(int images) {
    JsonArray uris = new JsonArray();
    for (int i = 0; i < images; i++) {
      uris.add(dogUri);
    }
    return api.createJob(Api.jobRequest(new JsonObject().put("image_uris", uris)));
  }

  static String events(long job) {
    return INF + "/jobs/" + job + "/events";
  }

  /** Ids after the snapshot go up by one each time, up to the terminal event, which ends the stream. */
  static void assertCompleteSequence(List<Sse> real, long fromId) {
    long expected = fromId + 1;
    for (Sse e : real) {
      assertThat(Long.parseLong(e.id())).as("event %s", e).isEqualTo(expected++);
    }
    assertThat(real.get(real.size() - 1).type()).isIn("completed", "failed", "cancelled");
  }

  @Test
  void aJobStreamsSnapshotStatusProgressImagesAndTheEndInOrder() {
    long id = job(12);
    Stream s = api.stream(events(id), null);
    Api.await(s.until(Api::terminal));
    Api.await(s.ended.future());
    assertThat(s.status).isEqualTo(200);
    assertThat(s.headers.get("content-type")).startsWith("text/event-stream");
    assertThat(s.headers.get("cache-control")).isEqualTo("no-cache");
    assertThat(s.headers.get("x-accel-buffering")).isEqualTo("no");
    assertThat(s.retry).isNotNull();

    List<Sse> real = s.real();
    assertThat(real.get(0).type()).isEqualTo("snapshot");
    assertThat(real.get(0).json().getLong("id")).isEqualTo(id);
    assertCompleteSequence(real.subList(1, real.size()), Long.parseLong(real.get(0).id()));
    // each image not already counted at the snapshot is listed once, in the images events
    List<Integer> listed = Api.listedImages(real);
    assertThat(listed).as("images listed after the snapshot").doesNotHaveDuplicates()
        .hasSize(12 - real.get(0).json().getInteger("processed_images")).allMatch(i -> i >= 0 && i < 12);
    List<Sse> progress = real.stream().filter(e -> e.type().equals("progress")).toList();
    assertThat(progress).isNotEmpty();
    JsonObject last = progress.get(progress.size() - 1).json();
    assertThat(last.getInteger("processed_images")).isEqualTo(12);
    assertThat(last.getInteger("total_images")).isEqualTo(12);
    assertThat(last.containsKey("images_per_second")).isTrue();
    assertThat(last.containsKey("eta_seconds")).isTrue();
    Sse end = real.get(real.size() - 1);
    assertThat(end.type()).isEqualTo("completed");
    assertThat(end.json().getString("status")).isEqualTo("completed");
    assertThat(end.json().getInteger("processed_images")).isEqualTo(12);
  }

  @Test
  void aClientThatReconnectsWithLastEventIdGetsExactlyWhatItMissed() {
    long id = job(16);
    // the reference: everything from the job's first event
    Stream all = api.stream(events(id), "0");
    Stream first = api.stream(events(id), null);
    Api.await(first.until(ev -> ev.stream().filter(e -> !":".equals(e.type())).count() >= 4));
    first.close();
    // it resumes from before the end: a job of few events may have ended within the first four, and a client that
    // saw the end has nothing left to resume
    List<Sse> seen = first.real();
    int upTo = seen.size();
    while (upTo > 2 && Api.terminal(seen.subList(upTo - 1, upTo))) {
      upTo--;
    }
    List<Sse> before = seen.subList(0, upTo);
    String lastSeen = before.get(before.size() - 1).id();

    Stream second = api.stream(events(id), lastSeen);
    Api.await(second.until(Api::terminal));
    Api.await(all.until(Api::terminal));

    List<Sse> after = second.real();
    assertThat(after).isNotEmpty();
    assertThat(after.get(0).type()).isNotEqualTo("snapshot");
    assertCompleteSequence(after, Long.parseLong(lastSeen));
    // and what both clients saw, stitched together, is the reference from the snapshot on
    List<String> stitched = new ArrayList<>();
    before.subList(1, before.size()).forEach(e -> stitched.add(e.id() + e.type()));
    after.forEach(e -> stitched.add(e.id() + e.type()));
    long snapshotId = Long.parseLong(before.get(0).id());
    List<String> reference = all.real().stream().filter(e -> Long.parseLong(e.id()) > snapshotId)
        .map(e -> e.id() + e.type()).toList();
    assertThat(stitched).isEqualTo(reference);
    assertCompleteSequence(all.real(), 0);
  }

  @Test
  void theStoredCreationEventIsTheJobAsCreatedForEveryKindOfCreate() {
    JsonObject request = Api.jobRequest(new JsonObject().put("image_uris", new JsonArray().add(dogUri))
        .put("confidence_threshold", 0.3).put("max_detections", 7));
    // without and with an Idempotency-Key: the one-statement create and the locked one store the same first event
    for (Map<String, String> headers : List.of(Map.<String, String>of(), Map.of("Idempotency-Key", "creation-event"))) {
      var created = api.post(INF + "/jobs", request, headers);
      assertThat(created.statusCode()).as(created.bodyAsString()).isEqualTo(201);
      JsonObject job = created.bodyAsJsonObject();
      Stream s = api.stream(events(job.getLong("id")), "0"); // replayed from PostgreSQL, from the first event
      Api.await(s.until(ev -> ev.stream().anyMatch(e -> "status".equals(e.type()))));
      s.close();
      Sse first = s.real().get(0);
      assertThat(first.type()).isEqualTo("status");
      assertThat(first.id()).isEqualTo("1");
      JsonObject event = first.json();
      assertThat(event.getString("status")).isEqualTo("pending");
      // what the create answered and what the event says are the same job, field for field
      assertThat(event).isEqualTo(job);
    }
  }

  @Test
  void aFinishedJobGivesTheSnapshotAndTheEndAtOnce() {
    long id = job(1);
    api.awaitTerminal(id);
    Stream s = api.stream(events(id), null);
    Api.await(s.ended.future());
    List<Sse> real = s.real();
    assertThat(real).extracting(Sse::type).containsExactly("snapshot", "completed");
    assertThat(Long.parseLong(real.get(1).id())).isEqualTo(Long.parseLong(real.get(0).id()) + 1);
    assertThat(real.get(0).json().getString("status")).isEqualTo("completed");
  }

  @Test
  void anIdleStreamGetsKeepAliveComments() {
    HttpResponse<Buffer> tj = api.post("/api/v1/training_jobs", new JsonObject()
        .put("name", "idle-" + System.nanoTime()).put("task_type", "detection"));
    long quiet = tj.bodyAsJsonObject().getLong("id");
    Stream s = api.stream(INF + "/events?training_job_id=" + quiet, null);
    Api.await(s.until(ev -> ev.stream().anyMatch(e -> ":".equals(e.type()))));
    assertThat(s.real()).extracting(Sse::type).containsExactly("snapshot");
    s.close();
  }

  @Test
  void fiftyClientsOnOneJobAllReceiveTheFullSequence() {
    long id = job(10);
    List<Stream> streams = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      streams.add(api.stream(events(id), "0"));
    }
    List<Future<Void>> ends = streams.stream().map(s -> s.until(Api::terminal)).toList();
    Api.await(Future.all(ends));
    List<String> reference = null;
    for (Stream s : streams) {
      List<String> seq = s.real().stream().map(e -> e.id() + e.type()).toList();
      assertCompleteSequence(s.real(), 0);
      if (reference == null) {
        reference = seq;
      }
      assertThat(seq).isEqualTo(reference);
    }
  }

  @Test
  void theAllJobsStreamCarriesStatusAndEndsOfEveryJobAndResumes() {
    HttpResponse<Buffer> tj = api.post("/api/v1/training_jobs", new JsonObject()
        .put("name", "dash-" + System.nanoTime()).put("task_type", "detection")
        .put("checkpoints", new JsonObject().put("best", "s3://inference-jobs/models/pretrained/"
            + "centernet_coco80_yolov8.onnx")));
    long trainingJob = tj.bodyAsJsonObject().getLong("id");
    Stream dash = api.stream(INF + "/events?training_job_id=" + trainingJob, null);
    JsonObject body = Api.jobRequest(new JsonObject().put("image_uris", new JsonArray().add(dogUri)))
        .put("training_job_id", trainingJob).put("checkpoint_path", "best");
    long a = api.createJob(body);
    Api.await(dash.until(ev -> ev.stream().anyMatch(e -> e.type().equals("completed")
        && e.json().getLong("id") == a)));
    List<Sse> seen = dash.real();
    assertThat(seen.get(0).type()).isEqualTo("snapshot");
    assertThat(seen.stream().map(Sse::type)).doesNotContain("progress", "images");
    assertThat(seen.stream().filter(e -> e.type().equals("status")).map(e -> e.json().getString("status")))
        .containsSubsequence("pending", "running", "completed");
    for (int i = 2; i < seen.size(); i++) {
      assertThat(Long.parseLong(seen.get(i).id())).isGreaterThan(Long.parseLong(seen.get(i - 1).id()));
    }
    dash.close();

    // a second job while the dashboard is away: resuming replays it
    String lastSeen = seen.get(seen.size() - 1).id();
    long b = api.createJob(body);
    api.awaitTerminal(b);
    Stream back = api.stream(INF + "/events?training_job_id=" + trainingJob, lastSeen);
    Api.await(back.until(ev -> ev.stream().anyMatch(e -> e.type().equals("completed"))));
    List<Sse> replayed = back.real();
    assertThat(replayed.get(0).type()).isEqualTo("status");
    assertThat(replayed.stream().allMatch(e -> e.json().getLong("id") == b)).isTrue();
    back.close();
  }

  @Test
  void anUnknownJobAnswers404JsonNotAStream() {
    HttpResponse<Buffer> r = api.get(events(987654));
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(r.getHeader("Content-Type")).startsWith("application/json");
    assertThat(r.bodyAsJsonObject().getJsonObject("error").getString("code")).isEqualTo("not_found");
  }

  @Test
  void progressEventsOfOneJobAreAtLeast100MsApartHoweverManyWritersItHas() {
    // four writers at once, as four workers on four nodes would be, each asking for a progress event with every
    // write: the job row's lock lets one through per 100 ms. The job is too large to end within the 0.4 s of
    // writes, so no final count (always sent) comes among them.
    var repo = new io.inferencejobs.jobs.JobRepository(node.pool(), events -> { });
    List<io.inferencejobs.jobs.ImageRef> refs = new ArrayList<>();
    for (int i = 0; i < 40_000; i++) {
      refs.add(new io.inferencejobs.jobs.ImageRef(i, "s3://inference-jobs/none/" + i + ".jpg", i + ".jpg"));
    }
    long trainingJob = Api.await(node.pool().query("SELECT id FROM training_jobs ORDER BY id LIMIT 1").execute())
        .iterator().next().getLong("id");
    var job = Api.await(repo.create(new io.inferencejobs.jobs.NewJob(trainingJob, "pretrained",
        "s3://inference-jobs/none.onnx", "batch", "detection", new JsonObject(), null, null, null, null, null, null),
        refs, 40_000, 0));
    // no worker is to run it: its one chunk is done before any could lease it (one that did would only write
    // results too, under the same rule)
    Api.await(node.pool().preparedQuery("UPDATE job_chunks SET state = 'done' WHERE job_id = $1")
        .execute(io.vertx.sqlclient.Tuple.of(job.id())));
    Api.await(repo.transition(job.id(), io.inferencejobs.jobs.JobStatus.RUNNING, null));
    long end = System.nanoTime() + 400_000_000L;
    List<Future<Void>> writers = new ArrayList<>();
    for (int w = 0; w < 4; w++) {
      int first = w * 10_000;
      // a repository each, as on four nodes: the writes of one node would take turns (and go together) in it
      var own = new io.inferencejobs.jobs.JobRepository(node.pool(), events -> { });
      writers.add(write(own, job.id(), first, first + 9_999, end));
    }
    Api.await(Future.all(writers));

    List<Long> at = new ArrayList<>();
    Api.await(node.pool().preparedQuery("SELECT (extract(epoch FROM created_at) * 1000000)::bigint AS us "
            + "FROM job_events WHERE job_id = $1 AND type = 'progress' ORDER BY seq")
        .execute(io.vertx.sqlclient.Tuple.of(job.id()))).forEach(r -> at.add(r.getLong("us")));
    long writes = Api.await(node.pool().preparedQuery("SELECT count(*) AS n FROM image_results WHERE job_id = $1")
        .execute(io.vertx.sqlclient.Tuple.of(job.id()))).iterator().next().getLong("n");
    assertThat(writes).as("results written in 0.4 s").isGreaterThan(20);
    assertThat(at).as("progress events over 0.4 s of writes").hasSizeGreaterThanOrEqualTo(2);
    for (int i = 1; i < at.size(); i++) {
      assertThat(at.get(i) - at.get(i - 1)).as("gap before progress event %d of %s", i, at)
          .isGreaterThanOrEqualTo(100_000L);
    }
    Api.await(repo.transition(job.id(), io.inferencejobs.jobs.JobStatus.CANCELLED, null));
  }

  /** Writes one result at a time, from {@code index} to {@code last}, until {@code end}; each asks for progress. */
  private static Future<Void> write(io.inferencejobs.jobs.JobRepository repo, long jobId, int index, int last,
                                    long end) {
    if (index > last || System.nanoTime() > end) {
      return Future.succeededFuture();
    }
    var row = new io.inferencejobs.jobs.ResultRow(index, index + ".jpg", 768, 576, new JsonArray(), 1.0, 1.0, 1.0,
        1.0, null, null);
    return repo.writeResults(jobId, "writer", List.of(row), true)
        .compose(outcome -> write(repo, jobId, index + 1, last, end));
  }

  @Test
  void aReplayOfLargeImagesEventsComesInPagesOfBoundedBytesEachEventOnceInOrder() {
    // about 100 images events of about 32 KB each (long image names): some 3 MB to replay
    var repo = new io.inferencejobs.jobs.JobRepository(node.pool(), events -> { });
    int images = 20_000;
    var job = ResultWritesIT.runningJob(repo, images, images);
    String longName = "n".repeat(120);
    for (int from = 0; from < images; from += 2_000) {
      List<io.inferencejobs.jobs.ResultRow> rows = new ArrayList<>();
      for (int i = from; i < from + 2_000; i++) {
        rows.add(new io.inferencejobs.jobs.ResultRow(i, longName + i + ".jpg", 64, 48, new JsonArray(), 1.0, 1.0,
            2.0, 1.0, null, null));
      }
      assertThat(Api.await(repo.writeResults(job.id(), "w", rows, false)).inserted()).isEqualTo(2_000);
    }
    assertThat(Api.await(repo.transition(job.id(), io.inferencejobs.jobs.JobStatus.COMPLETED, null))).isPresent();

    // one page from the start: cut near its byte budget, and saying so
    var page = Api.await(repo.eventsOfJob(job.id(), 0, 1000, io.inferencejobs.api.EventStreams.REPLAY_PAGE_BYTES));
    assertThat(page.cut()).isTrue();
    assertThat(page.full()).isFalse();
    int bytes = page.events().stream().mapToInt(e -> e.data().encode().length()).sum();
    assertThat(bytes).isLessThanOrEqualTo(io.inferencejobs.api.EventStreams.REPLAY_PAGE_BYTES + 40_000)
        .isGreaterThan(io.inferencejobs.api.EventStreams.REPLAY_PAGE_BYTES / 2);

    // a client resuming from the first event gets every later one once, numbered without a gap, the end last
    Stream s = api.stream(INF + "/jobs/" + job.id() + "/events", "1");
    Api.await(s.until(Api::terminal));
    List<Sse> real = s.real();
    s.close();
    for (int i = 0; i < real.size(); i++) {
      assertThat(Long.parseLong(real.get(i).id())).as("event %d", i).isEqualTo(i + 2);
    }
    long lastSeq = Api.await(node.pool().preparedQuery("SELECT event_seq FROM inference_jobs WHERE id = $1")
        .execute(io.vertx.sqlclient.Tuple.of(job.id()))).iterator().next().getInteger("event_seq");
    assertThat(Long.parseLong(real.get(real.size() - 1).id())).isEqualTo(lastSeq);
    assertThat(real.get(real.size() - 1).type()).isEqualTo("completed");
    assertThat(Api.listedImages(real)).hasSize(images).doesNotHaveDuplicates();
  }
}
