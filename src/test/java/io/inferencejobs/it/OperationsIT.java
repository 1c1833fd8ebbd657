package io.inferencejobs.it;

import io.inferencejobs.app.Node;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What an operator meets: every node, worker-only included, answers health and metrics on its management port; a
 * worker asked for a GPU that cannot run fails to start saying what is missing, or runs degraded when allowed to; a
 * worker process opens only the ports it is configured with; S3 credentials come from the AWS default chain when no
 * keys are set; and an unreachable PostgreSQL or S3 stops the start with one line naming it and its settings.
 */
class OperationsIT {
  static boolean gpuHere() {
    return Files.exists(Path.of("/dev/nvidia0"));
  }

  static Map<String, String> settings(String name) {
    return new HashMap<>(TestService.settings(name));
  }

  static JsonObject managementGet(Api api, String path, int expected) {
    HttpResponse<Buffer> r = api.get(path);
    assertThat(r.statusCode()).as(path + " " + r.bodyAsString()).isEqualTo(expected);
    return r.bodyAsJsonObject();
  }

  @Test
  void aWorkerOnlyNodeAnswersHealthAndMetricsOnItsManagementPort() {
    Map<String, String> env = settings("worker-only");
    env.put("ROLES", "worker");
    env.put("WORKER_DEVICES", "cpu");
    Node node = TestService.start(env);
    try (Api management = new Api(node.managementPort())) {
      assertThat(managementGet(management, "/health/live", 200).getString("status")).isEqualTo("up");
      JsonObject ready = managementGet(management, "/health/ready", 200);
      assertThat(ready.getString("status")).isEqualTo("ready");
      JsonObject own = ready.getJsonArray("node_workers").getJsonObject(0);
      assertThat(own.getString("device")).isEqualTo("cpu");
      assertThat(own.getString("provider")).isEqualTo("CPU");
      assertThat(own.getBoolean("degraded")).isFalse();
      String metrics = management.get("/metrics").bodyAsString();
      assertThat(metrics).contains("inference_worker_degraded{").contains("jvm_memory_used_bytes");
      assertThat(management.get("/nothing").statusCode()).isEqualTo(404);
    } finally {
      Api.await(node.closeAsync());
    }
  }

  @Test
  void aGpuThatCannotRunStopsTheStartUnlessTheCpuIsAllowed() {
    Assumptions.assumeFalse(gpuHere(), "this machine has a GPU: the no-GPU path cannot be shown here");
    Map<String, String> env = settings("no-gpu");
    env.put("ROLES", "worker");
    env.put("WORKER_DEVICES", "cuda:0");
    assertThatThrownBy(() -> TestService.start(env)).rootCause()
        .hasMessageContaining("worker device cuda:0 cannot run").hasMessageContaining("no NVIDIA GPU")
        .hasMessageContaining("ENGINE_CUDA_FALLBACK=cpu");

    Map<String, String> fallback = settings("gpu-fallback");
    fallback.put("ROLES", "worker");
    fallback.put("WORKER_DEVICES", "cuda:0");
    fallback.put("ENGINE_CUDA_FALLBACK", "cpu");
    Node node = TestService.start(fallback);
    try (Api management = new Api(node.managementPort())) {
      JsonObject ready = managementGet(management, "/health/ready", 200);
      assertThat(ready.getString("status")).isEqualTo("degraded");
      JsonObject own = ready.getJsonArray("node_workers").getJsonObject(0);
      assertThat(own.getString("device")).isEqualTo("cuda:0");
      assertThat(own.getString("provider")).isEqualTo("CPU");
      assertThat(own.getBoolean("degraded")).isTrue();
      assertThat(own.getString("note")).contains("no NVIDIA GPU");
      JsonArray cluster = ready.getJsonArray("workers");
      assertThat(cluster.getJsonObject(0).getBoolean("degraded")).isTrue();
      assertThat(management.get("/metrics").bodyAsString()).containsPattern(
          "inference_worker_degraded\\{device=\"cuda:0\",node=\"[^\"]+\"} 1\\.0");
    } finally {
      Api.await(node.closeAsync());
    }
  }

  @Test
  void aWorkerProcessOpensOnlyItsConfiguredPorts() throws Exception {
    Map<String, String> env = NodeProcess.isolatedStore("ports");
    int hazelcast = NodeProcess.freePort();
    int bus = NodeProcess.freePort();
    int management = NodeProcess.freePort();
    env.put("ROLES", "worker");
    env.put("WORKER_DEVICES", "cpu");
    env.put("CLUSTERED", "true");
    env.put("CLUSTER_PORT", Integer.toString(hazelcast));
    env.put("CLUSTER_MEMBERS", "127.0.0.1:" + hazelcast);
    env.put("CLUSTER_BUS_PORT", Integer.toString(bus));
    env.put("MANAGEMENT_PORT", Integer.toString(management));
    try (NodeProcess worker = NodeProcess.start("worker", env)) {
      assertThat(worker.listeningPorts()).containsExactlyInAnyOrder(hazelcast, bus, management);
      try (Api api = new Api(management)) {
        assertThat(api.get("/health/live").statusCode()).isEqualTo(200);
      }
    }
  }

  @Test
  void s3CredentialsComeFromTheDefaultChainWhenNoKeysAreSet() throws Exception {
    Node shared = TestService.shared();
    Map<String, String> env = NodeProcess.isolatedStore("defaultchain");
    env.remove("S3_ACCESS_KEY");
    env.remove("S3_SECRET_KEY");
    env.put("ROLES", "api");
    env.put("HTTP_PORT", Integer.toString(NodeProcess.freePort()));
    // the SDK's environment provider, the first in its default chain
    env.put("AWS_ACCESS_KEY_ID", shared.config().s3().accessKey());
    env.put("AWS_SECRET_ACCESS_KEY", shared.config().s3().secretKey());
    try (NodeProcess node = NodeProcess.start("with-env-credentials", env);
         Api api = new Api(Integer.parseInt(env.get("HTTP_PORT")))) {
      HttpResponse<Buffer> up = api.upload(1, List.of(Map.entry("dog.jpg", JobFlowIT.IMAGES.resolve("dog.jpg"))));
      assertThat(up.statusCode()).as(up.bodyAsString()).isEqualTo(200);
    }
    // and without any credentials at all, the start says so in one line
    env.remove("AWS_ACCESS_KEY_ID");
    env.remove("AWS_SECRET_ACCESS_KEY");
    env.put("DATA_DIR", env.get("DATA_DIR") + "/none");
    env.put("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    env.put("AWS_CONFIG_FILE", "/nonexistent");
    env.put("AWS_EC2_METADATA_DISABLED", "true");
    Map.Entry<Integer, String> run = NodeProcess.runToExit(env);
    assertThat(run.getKey()).isNotZero();
    assertThat(startFailure(run.getValue())).contains("no S3 credentials").contains("S3_ACCESS_KEY");
  }

  /** The one line the start failed with (nothing else of the output is about the failure). */
  static String startFailure(String output) {
    List<String> lines = output.lines().filter(l -> l.startsWith("start failed: ")).toList();
    assertThat(lines).as(output).hasSize(1);
    assertThat(output).as("no stack trace").doesNotContain("\tat ");
    return lines.get(0);
  }

  @Test
  void anUnreachablePostgresOrS3StopsTheStartWithOneLineNamingIt() throws Exception {
    Map<String, String> pg = settings("no-postgres");
    pg.put("PG_HOST", "127.0.0.1");
    pg.put("PG_PORT", "1");
    Map.Entry<Integer, String> run = NodeProcess.runToExit(pg);
    assertThat(run.getKey()).isNotZero();
    assertThat(startFailure(run.getValue())).contains("PostgreSQL at 127.0.0.1:1 (PG_HOST, PG_PORT) refused the "
        + "connection");

    Map<String, String> s3 = settings("no-s3");
    s3.put("S3_ENDPOINT", "http://127.0.0.1:1");
    s3.put("S3_ACCESS_KEY", "k");
    s3.put("S3_SECRET_KEY", "s");
    run = NodeProcess.runToExit(s3);
    assertThat(run.getKey()).isNotZero();
    assertThat(startFailure(run.getValue())).contains("S3 endpoint http://127.0.0.1:1 (S3_ENDPOINT) could not be "
        + "reached");
  }

  @Test
  void aPostgresUserThatMayNotCreateTablesIsToldWhatToGrant() throws Exception {
    Node shared = TestService.shared();
    Map<String, String> env = NodeProcess.isolatedStore("noprivileges");
    String db = env.get("PG_DATABASE");
    String role = "weak_" + db;
    // PostgreSQL 14 lets everyone create in schema public: take that away in this database, for this role
    Api.await(shared.pool().query("CREATE ROLE " + role + " LOGIN PASSWORD 'weak'").execute());
    io.vertx.sqlclient.Pool asOwner = io.vertx.pgclient.PgBuilder.pool().connectingTo(
            new io.vertx.pgclient.PgConnectOptions().setHost("127.0.0.1").setPort(shared.postgresPort())
                .setDatabase(db).setUser("postgres").setPassword("postgres"))
        .using(shared.vertx()).build();
    try {
      Api.await(asOwner.query("REVOKE CREATE ON SCHEMA public FROM PUBLIC").execute());
    } finally {
      Api.await(asOwner.close());
    }
    env.put("PG_USER", role);
    env.put("PG_PASSWORD", "weak");
    Map.Entry<Integer, String> run = NodeProcess.runToExit(env);
    assertThat(run.getKey()).isNotZero();
    assertThat(startFailure(run.getValue())).contains("PostgreSQL user '" + role + "' (PG_USER) may not create "
        + "tables in schema public").contains("GRANT CREATE ON SCHEMA public TO " + role);
    // and TLS asked of a server that offers none says which setting asked for it
    Map<String, String> tls = NodeProcess.isolatedStore("tlsrequired");
    tls.put("PG_SSL_MODE", "require");
    run = NodeProcess.runToExit(tls);
    assertThat(run.getKey()).isNotZero();
    assertThat(startFailure(run.getValue())).contains("(PG_HOST, PG_PORT)").contains("PG_SSL_MODE=require");
  }
}
