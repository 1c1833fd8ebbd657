package io.inferencejobs.it;

import io.inferencejobs.app.Node;
import io.inferencejobs.it.Api.Sse;
import io.inferencejobs.storage.S3Uri;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static io.inferencejobs.it.Api.INF;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A cluster on loopback, one JVM per node, joined over Hazelcast: two API nodes and two workers to begin with, one
 * PostgreSQL and one S3 server. Jobs are spread over the workers; a worker killed mid-job costs nothing; a worker
 * started mid-job takes a share; an API node killed under a streaming client costs it only a reconnect.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class) // the API node killed by one test is needed by another
class ClusterIT {
  static final List<NodeProcess> nodes = new ArrayList<>();
  static Map<String, String> env;
  static List<Integer> clusterPorts = new ArrayList<>();
  static int api1Port;
  static int api2Port;
  static NodeProcess api1;
  static NodeProcess worker1;
  static String bucket;
  static List<String> images = new ArrayList<>();

  @BeforeAll
  static void cluster() throws Exception {
    Node shared = TestService.shared();
    env = NodeProcess.isolatedStore("cluster");
    bucket = env.get("S3_BUCKET");
    for (int i = 0; i < 5; i++) {
      clusterPorts.add(NodeProcess.freePort());
    }
    env.put("CLUSTERED", "true");
    // clustered nodes require keys by default; this test is about spreading work, on loopback (AuthIT covers keys)
    env.put("AUTH_ENABLED", "false");
    env.put("CLUSTER_MEMBERS", clusterPorts.stream().map(p -> "127.0.0.1:" + p).collect(Collectors.joining(",")));
    env.put("WORKER_CHUNK_SIZE", "6");
    env.put("ENGINE_BATCH_SIZE", "3");
    env.put("ENGINE_THREADS", "1");
    env.put("WORKER_LEASE_SECONDS", "4");
    api1Port = NodeProcess.freePort();
    api2Port = NodeProcess.freePort();
    // the first API node creates the bucket and schema; the others join it
    api1 = start("api-1", "api", 0, api1Port);
    List<Future<NodeProcess>> rest = new ArrayList<>();
    io.vertx.core.Vertx vx = io.vertx.core.Vertx.vertx();
    rest.add(vx.executeBlocking(() -> start("api-2", "api", 1, api2Port)));
    rest.add(vx.executeBlocking(() -> start("worker-1", "worker", 2, 0)));
    rest.add(vx.executeBlocking(() -> start("worker-2", "worker", 3, 0)));
    Api.await(Future.all(rest));
    worker1 = rest.get(1).result();
    Api.await(vx.close());
    for (int i = 0; i < 60; i++) {
      images.add("s3://" + bucket + "/small/img-" + i + ".png");
      Api.await(shared.storage().putBytes(S3Uri.parse(images.get(i)).orElseThrow(), LargeJobIT.png(i), "image/png"));
    }
  }

  static NodeProcess start(String name, String roles, int member, int httpPort) throws Exception {
    Map<String, String> e = new java.util.HashMap<>(env);
    e.put("ROLES", roles);
    e.put("CLUSTER_PORT", Integer.toString(clusterPorts.get(member)));
    e.put("HTTP_PORT", Integer.toString(httpPort));
    NodeProcess n = NodeProcess.start(name, e);
    synchronized (nodes) {
      nodes.add(n);
    }
    return n;
  }

  @AfterAll
  static void stop() throws Exception {
    for (NodeProcess n : nodes) {
      n.kill();
    }
  }

  static long job(Api api, int count) {
    JsonArray uris = new JsonArray();
    for (int i = 0; i < count; i++) {
      uris.add(images.get(i % images.size()));
    }
    return api.createJob(Api.jobRequest(new JsonObject().put("image_uris", uris)));
  }

  static Set<String> workersSeen(Api api) {
    JsonObject ready = api.get("/health/ready").bodyAsJsonObject();
    Set<String> ids = new HashSet<>();
    ready.getJsonArray("workers").forEach(w -> ids.add(((JsonObject) w).getString("node_id")));
    return ids;
  }

  static void assertExactlyOnce(Api api, long id, int total) {
    List<JsonObject> results = api.allResults(id);
    assertThat(results).hasSize(total);
    for (int i = 0; i < total; i++) {
      assertThat(results.get(i).getInteger("image_index")).isEqualTo(i);
      assertThat(results.get(i).getString("error")).isNull();
    }
    JsonObject job = api.get(INF + "/jobs/" + id).bodyAsJsonObject();
    assertThat(job.getInteger("processed_images")).isEqualTo(total);
    assertThat(job.getInteger("failed_images")).isZero();
  }

  @Test
  @Order(1)
  void aCheckpointRegisteredThroughOneApiNodeRunsThroughTheOtherAtOnce() throws Exception {
    try (Api one = new Api(api1Port); Api two = new Api(api2Port)) {
      long tj = one.post("/api/v1/training_jobs", new JsonObject().put("name", "cluster-byo-" + System.nanoTime())
          .put("task_type", "detection")).bodyAsJsonObject().getLong("id");
      JsonObject request = new JsonObject().put("training_job_id", tj).put("checkpoint_path", "best")
          .put("inference_type", "batch").put("input_data", new JsonObject().put("image_uris",
              new JsonArray().add(images.get(0))));
      // api-2 reads the training job, without the checkpoint, and keeps it for job creation (for up to 5 s)
      long cached = System.nanoTime();
      assertThat(two.post(INF + "/jobs", request).statusCode()).isEqualTo(400);
      byte[] model;
      try (java.io.InputStream in = ClusterIT.class.getResourceAsStream("/models/centernet_coco80_yolov8.onnx")) {
        model = in.readAllBytes();
      }
      var put = one.request(io.vertx.core.http.HttpMethod.PUT, "/api/v1/training_jobs/" + tj + "/checkpoints/best",
          Map.of("Content-Type", "application/octet-stream"), io.vertx.core.buffer.Buffer.buffer(model));
      assertThat(put.statusCode()).as(put.bodyAsString()).isEqualTo(201);
      // the registration on api-1 reaches api-2 over the cluster's bus, which drops its copy
      long id = Eventually.until(two.vertx(), "api-2 creates a job with the checkpoint", java.time.Duration
          .ofSeconds(3), () -> {
            var r = two.post(INF + "/jobs", request);
            return r.statusCode() == 201 ? r.bodyAsJsonObject().getLong("id") : null;
          }, created -> created != null);
      double seconds = (System.nanoTime() - cached) / 1e9;
      assertThat(seconds).as("created before api-2's cached copy would have expired on its own").isLessThan(5);
      assertThat(two.awaitTerminal(id).getString("status")).isEqualTo("completed");
    }
  }

  @Test
  @Order(2)
  void workSpreadsOverWorkersSurvivesAKilledWorkerAndFeedsANewOne() throws Exception {
    try (Api api = new Api(api2Port)) {
      Set<String> before = workersSeen(api);
      assertThat(before).hasSize(2);

      long spread = job(api, 60);
      JsonObject done = api.awaitTerminal(spread);
      assertThat(done.getString("status")).isEqualTo("completed");
      assertExactlyOnce(api, spread, 60);
      JsonArray processedBy = api.get(INF + "/jobs/" + spread).bodyAsJsonObject().getJsonArray("workers");
      Set<String> nodesThatWorked = new HashSet<>();
      processedBy.forEach(w -> nodesThatWorked.add(w.toString().substring(0, w.toString().lastIndexOf('/'))));
      assertThat(nodesThatWorked).as("both workers took chunks").containsExactlyInAnyOrderElementsOf(before);

      // big enough that the job still has open chunks when the third worker has started (about 3 s)
      long big = job(api, 200);
      Api.Stream s = api.stream(INF + "/jobs/" + big + "/events", null);
      Api.await(s.until(ev -> Api.listedImages(ev).size() >= 6));
      worker1.kill();
      NodeProcess worker3 = start("worker-3", "worker", 4, 0);
      Set<String> after = workersSeen(api);
      JsonObject end = api.awaitTerminal(big);
      assertThat(end.getString("status")).isEqualTo("completed");
      assertExactlyOnce(api, big, 200);
      Set<String> newcomers = new HashSet<>(after);
      newcomers.removeAll(before);
      assertThat(newcomers).as("the third worker announced itself").hasSize(1);
      JsonArray workers = api.get(INF + "/jobs/" + big).bodyAsJsonObject().getJsonArray("workers");
      String third = newcomers.iterator().next();
      assertThat(workers.stream().map(Object::toString).anyMatch(w -> w.startsWith(third + "/")))
          .as("the worker started mid-job took chunks: %s", workers).isTrue();
      worker3.close();
    }
  }

  @Test
  @Order(3)
  void aClientOfAKilledApiNodeResumesOnTheOtherWithNoGap() throws Exception {
    long id;
    List<Sse> before;
    try (Api one = new Api(api1Port)) {
      id = job(one, 45);
      Api.Stream s = one.stream(INF + "/jobs/" + id + "/events", null);
      Api.await(s.until(ev -> ev.stream().filter(e -> !":".equals(e.type())).count() >= 5));
      api1.kill();
      Api.await(s.ended.future());
      before = s.real();
    }
    assertThat(Api.terminal(before)).as("the stream was cut mid-job").isFalse();
    String last = before.get(before.size() - 1).id();
    try (Api two = new Api(api2Port)) {
      Api.Stream resumed = two.stream(INF + "/jobs/" + id + "/events", last);
      Api.await(resumed.until(Api::terminal));
      List<Sse> after = resumed.real();
      long expected = Long.parseLong(last) + 1;
      for (Sse e : after) {
        assertThat(Long.parseLong(e.id())).as("no gap, no duplicate: %s", e).isEqualTo(expected++);
      }
      assertThat(after.get(after.size() - 1).type()).isEqualTo("completed");
      assertExactlyOnce(two, id, 45);
    }
  }
}
