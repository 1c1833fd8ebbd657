package io.inferencejobs.it;

import io.inferencejobs.app.Node;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The service process is killed (SIGKILL) in the middle of a job and started again: the job, found running, resumes
 * where it stopped and completes with every image exactly once. The service runs as a separate JVM from the built
 * jar, against PostgreSQL and S3 configured as external servers (those of the shared test service, in a database
 * and a bucket of its own).
 */
class RestartIT {
  static final int IMAGES = 96;
  static Node shared;

  @BeforeAll
  static void start() {
    shared = TestService.shared();
  }

  @Test
  void aKilledServiceResumesItsRunningJobAndCompletesItExactlyOnce() throws Exception {
    Map<String, String> env = NodeProcess.isolatedStore("restart");
    env.put("WORKER_CHUNK_SIZE", "8");
    env.put("ENGINE_BATCH_SIZE", "4");
    int port = NodeProcess.freePort();
    env.put("HTTP_PORT", Integer.toString(port));

    long id;
    try (NodeProcess first = NodeProcess.start("first", env); Api api = new Api(port)) {
      String uri = api.upload(1, List.of(Map.entry("horses.jpg", JobFlowIT.IMAGES.resolve("horses.jpg"))))
          .bodyAsJsonObject().getJsonArray("uploaded_files").getJsonObject(0).getString("s3_uri");
      JsonArray uris = new JsonArray();
      for (int i = 0; i < IMAGES; i++) {
        uris.add(uri);
      }
      id = api.createJob(Api.jobRequest(new JsonObject().put("image_uris", uris)));
      Api.Stream stream = api.stream(Api.INF + "/jobs/" + id + "/events", null);
      // wait until some, not all, images are done, then kill the process outright
      Api.await(stream.until(events -> events.stream().anyMatch(e -> e.type().equals("image"))));
      first.kill();
      assertThat(Api.terminal(stream.events)).as("the job was still running when the process died").isFalse();
    }

    try (NodeProcess second = NodeProcess.start("second", env); Api api = new Api(port)) {
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
