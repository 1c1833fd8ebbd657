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
    assertThat(real.stream().filter(e -> e.type().equals("image")).count())
        .as("one image event per image not already done at the snapshot")
        .isLessThanOrEqualTo(12).isPositive();
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
    List<Sse> before = first.real();
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
    assertThat(seen.stream().map(Sse::type)).doesNotContain("progress", "image");
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
}
