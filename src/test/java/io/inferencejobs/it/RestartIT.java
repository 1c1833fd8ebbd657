package io.inferencejobs.it;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The service process is killed (SIGKILL) in the middle of a job and started again: the job, found running, resumes
 * where it stopped and completes with every image exactly once. The service runs as a separate JVM from the built
 * jar with its embedded PostgreSQL and S3 in one data directory, as the README's run command starts it: the first
 * start after the kill comes up, although the killed JVM's PostgreSQL still runs on that directory.
 */
class RestartIT {
  static final int IMAGES = 96;
  @Test
  void aKilledServiceResumesItsRunningJobAndCompletesItExactlyOnce() throws Exception {
    // one data directory, its own embedded PostgreSQL and S3: SIGKILL leaves that PostgreSQL running, orphaned, and
    // the next start must deal with it and come up the first time
    Map<String, String> env = TestService.settings("restart");
    env.put("WORKER_CHUNK_SIZE", "8");
    env.put("ENGINE_BATCH_SIZE", "4");
    int port = NodeProcess.freePort();
    env.put("HTTP_PORT", Integer.toString(port));

    long id;
    try (NodeProcess first = NodeProcess.start("node", env); Api api = new Api(port)) {
      String uri = api.upload(1, List.of(Map.entry("horses.jpg", JobFlowIT.IMAGES.resolve("horses.jpg"))))
          .bodyAsJsonObject().getJsonArray("uploaded_files").getJsonObject(0).getString("s3_uri");
      JsonArray uris = new JsonArray();
      for (int i = 0; i < IMAGES; i++) {
        uris.add(uri);
      }
      id = api.createJob(Api.jobRequest(new JsonObject().put("image_uris", uris)));
      Api.Stream stream = api.stream(Api.INF + "/jobs/" + id + "/events", null);
      // wait until some, not all, images are done, then kill the process outright
      Api.await(stream.until(events -> !Api.listedImages(events).isEmpty()));
      first.kill();
      assertThat(Api.terminal(stream.events)).as("the job was still running when the process died").isFalse();
    }

    try (NodeProcess second = NodeProcess.start("node", env); Api api = new Api(port)) {
      JsonObject before = api.get(Api.INF + "/jobs/" + id).bodyAsJsonObject();
      assertThat(before.getString("status")).isIn("running", "completed");
      JsonObject done = api.awaitTerminal(id);
      assertThat(done.getString("status")).isEqualTo("completed");
      assertThat(done.getInteger("processed_images")).isEqualTo(IMAGES);
      List<JsonObject> results = api.allResults(id);
      assertThat(results).hasSize(IMAGES);
      for (int i = 0; i < IMAGES; i++) {
        assertThat(results.get(i).getInteger("image_index")).isEqualTo(i);
        assertThat(results.get(i).getString("error")).isNull();
        assertThat(results.get(i).getString("image_name")).isEqualTo("horses.jpg");
      }
    }
  }
}
