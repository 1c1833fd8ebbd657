package io.inferencejobs.it;

import io.inferencejobs.app.Node;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

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

  static final class Service implements AutoCloseable {
    final Process process;
    final int port;

    Service(Map<String, String> env, int port, Path log) throws Exception {
      this.port = port;
      ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Xmx512m", "-jar", Path.of("target", "inference-jobs.jar").toString(), "serve");
      pb.environment().putAll(env);
      pb.redirectErrorStream(true);
      process = pb.start();
      CompletableFuture<Void> ready = new CompletableFuture<>();
      Thread reader = new Thread(() -> {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream()));
             var out = Files.newBufferedWriter(log, java.nio.file.StandardOpenOption.CREATE,
                 java.nio.file.StandardOpenOption.APPEND)) {
          String line;
          while ((line = in.readLine()) != null) {
            out.write(line);
            out.newLine();
            out.flush();
            if (line.startsWith("inference-jobs ready at")) {
              ready.complete(null);
            }
          }
          ready.completeExceptionally(new AssertionError("service exited before it was ready; see " + log));
        } catch (Exception e) {
          ready.completeExceptionally(e);
        }
      });
      reader.setDaemon(true);
      reader.start();
      ready.get(90, TimeUnit.SECONDS);
    }

    void kill() throws Exception {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws Exception {
      if (process.isAlive()) {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
          kill();
        }
      }
    }
  }

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void aKilledServiceResumesItsRunningJobAndCompletesItExactlyOnce() throws Exception {
    String db = "restart_" + UUID.randomUUID().toString().substring(0, 8);
    Api.await(shared.pool().query("CREATE DATABASE " + db).execute());
    Map<String, String> env = new HashMap<>(TestService.settings("restart"));
    env.put("PG_HOST", "127.0.0.1");
    env.put("PG_PORT", Integer.toString(shared.postgresPort()));
    env.put("PG_DATABASE", db);
    env.put("PG_USER", shared.config().postgres().embedded() ? "postgres" : shared.config().postgres().user());
    env.put("PG_PASSWORD", shared.config().postgres().embedded() ? "postgres" : shared.config().postgres().password());
    env.put("S3_ENDPOINT", shared.s3Endpoint());
    env.put("S3_BUCKET", db.replace('_', '-'));
    env.put("WORKER_CHUNK_SIZE", "8");
    env.put("ENGINE_BATCH_SIZE", "4");
    int port = freePort();
    env.put("HTTP_PORT", Integer.toString(port));
    Path log = Path.of(env.get("DATA_DIR"), "service.log");

    long id;
    try (Service first = new Service(env, port, log); Api api = new Api(port)) {
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

    try (Service second = new Service(env, port, log); Api api = new Api(port)) {
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
