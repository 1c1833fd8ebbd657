package io.inferencejobs.it;

import io.inferencejobs.storage.S3Uri;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static io.inferencejobs.it.Api.INF;
import static io.inferencejobs.it.BadInputIT.assertError;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bring your own checkpoint: an ONNX file PUT under a training job is stored, inspected by a worker (task, layout,
 * input size, classes, sha256), registered, and runs jobs by its name. PyTorch files are refused with the command
 * that exports them, at upload, at registration and at job creation; a file no engine reads is refused and removed.
 */
class CheckpointsIT extends SharedServiceIT {
  static byte[] model;
  static long trainingJob;

  @BeforeAll
  static void setUp() throws Exception {
    try (InputStream in = CheckpointsIT.class.getResourceAsStream("/models/centernet_coco80_yolov8.onnx")) {
      model = in.readAllBytes();
    }
    HttpResponse<Buffer> r = api.post("/api/v1/training_jobs", new JsonObject()
        .put("name", "byo-" + UUID.randomUUID()).put("task_type", "detection"));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    trainingJob = r.bodyAsJsonObject().getLong("id");
  }

  static HttpResponse<Buffer> put(long tj, String name, byte[] body) {
    return api.request(HttpMethod.PUT, "/api/v1/training_jobs/" + tj + "/checkpoints/" + name,
        Map.of("Content-Type", "application/octet-stream"), Buffer.buffer(body));
  }

  static byte[] pytorchZip() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(out)) {
      zip.putNextEntry(new ZipEntry("best/data.pkl"));
      zip.write(new byte[] {(byte) 0x80, 0x02, '}', 'q', 0x00, '.'});
      zip.closeEntry();
    }
    return out.toByteArray();
  }

  static JsonObject trainingJob() {
    return api.get("/api/v1/training_jobs/" + trainingJob).bodyAsJsonObject();
  }

  static int objectsUnder(String prefix) {
    return Api.await(node.storage().listKeys(new S3Uri(node.storage().bucket(), prefix), 1000)).size();
  }

  @Test
  void anUploadedModelIsInspectedRegisteredAndRunsJobs() throws Exception {
    String dog = api.upload(trainingJob, List.of(Map.entry("dog.jpg", JobFlowIT.IMAGES.resolve("dog.jpg"))))
        .bodyAsJsonObject().getString("inference_session_id");
    JsonObject request = new JsonObject().put("training_job_id", trainingJob).put("checkpoint_path", "best")
        .put("inference_type", "single").put("input_data", new JsonObject().put("inference_session_id", dog));
    // before the upload the checkpoint is unknown; creation has now read (and cached) the training job without it
    assertError(api.post(INF + "/jobs", request), 400, "checkpoint_path");

    HttpResponse<Buffer> r = put(trainingJob, "best", model);
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    assertThat(r.getHeader("Location")).isEqualTo("/api/v1/training_jobs/" + trainingJob + "/checkpoints/best");
    JsonObject info = r.bodyAsJsonObject();
    assertThat(info.getString("task")).isEqualTo("detect");
    assertThat(info.getString("layout")).isEqualTo("yolov8");
    assertThat(info.getInteger("input_width")).isEqualTo(640);
    assertThat(info.getInteger("input_height")).isEqualTo(640);
    assertThat(info.getInteger("num_classes")).isEqualTo(80);
    assertThat(info.getJsonArray("class_names").getString(16)).isEqualTo("dog");
    assertThat(info.getLong("size_bytes")).isEqualTo(model.length);
    assertThat(info.getString("sha256"))
        .isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(model)));
    JsonObject tj = trainingJob();
    assertThat(tj.getJsonObject("checkpoints").getString("best")).isEqualTo(info.getString("s3_uri"));
    assertThat(tj.getJsonObject("checkpoint_info").getJsonObject("best").getString("layout")).isEqualTo("yolov8");

    // right after the upload, a job names it: the registration dropped the cached training job
    long id = api.createJob(request);
    JsonObject done = api.awaitTerminal(id);
    assertThat(done.getString("status")).isEqualTo("completed");
    JsonArray predictions = api.allResults(id).get(0).getJsonArray("predictions");
    assertThat(predictions.stream().map(p -> ((JsonObject) p).getString("class_name"))).contains("dog");

    // the same name again replaces it
    HttpResponse<Buffer> again = put(trainingJob, "best", model);
    assertThat(again.statusCode()).as(again.bodyAsString()).isEqualTo(200);
  }

  @Test
  void pytorchFilesGetTheExportCommandAndLeaveNothing() throws Exception {
    int before = objectsUnder("checkpoints/" + trainingJob + "/");
    byte[] pickle = {(byte) 0x80, 0x02, 0x63, 0x63, 0x6f, 0x6c, 0x6c, 0x65, 0x63, 0x74};
    for (byte[] pt : List.of(pytorchZip(), pickle)) {
      HttpResponse<Buffer> r = put(trainingJob, "from-pt", pt);
      assertError(r, 422, "body");
      assertThat(r.bodyAsJsonObject().getJsonObject("error").getString("message"))
          .contains("PyTorch").contains("yolo export model=best.pt format=onnx");
    }
    assertThat(trainingJob().getJsonObject("checkpoints").containsKey("from-pt")).isFalse();
    assertThat(objectsUnder("checkpoints/" + trainingJob + "/")).isEqualTo(before);

    // the same file put into S3 by other means: refused at registration and at job creation alike
    S3Uri pt = new S3Uri(node.storage().bucket(), "elsewhere/best.pt");
    Api.await(node.storage().putBytes(pt, pytorchZip(), "application/zip"));
    HttpResponse<Buffer> reg = api.post("/api/v1/training_jobs", new JsonObject().put("name", "pt-" + UUID.randomUUID())
        .put("task_type", "detection").put("checkpoints", new JsonObject().put("best", pt.toString())));
    assertError(reg, 422, "checkpoints.best");
    assertThat(reg.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("yolo export");
    HttpResponse<Buffer> job = api.post(INF + "/jobs", Api.jobRequest(new JsonObject().put("image_uris",
        new JsonArray().add("s3://inference-jobs/x.jpg"))).put("checkpoint_path", pt.toString()));
    assertError(job, 422, "checkpoint_path");
    assertThat(job.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("yolo export");
    // and a missing one at registration
    assertError(api.post("/api/v1/training_jobs", new JsonObject().put("name", "gone-" + UUID.randomUUID())
        .put("task_type", "detection").put("checkpoints", new JsonObject().put("best",
            "s3://inference-jobs/nothing/here.onnx"))), 422, "checkpoints.best");
  }

  @Test
  void aFileNoEngineReadsIsRefusedAndRemoved() {
    int before = objectsUnder("checkpoints/" + trainingJob + "/");
    byte[] garbage = {0x08, 0x07, 0x12, 0x7f, 'n', 'o', 't', ' ', 'a', ' ', 'm', 'o', 'd', 'e', 'l'};
    HttpResponse<Buffer> r = put(trainingJob, "broken", garbage);
    assertError(r, 422, "body");
    assertThat(r.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("cannot read");
    assertThat(objectsUnder("checkpoints/" + trainingJob + "/")).isEqualTo(before);
    assertThat(trainingJob().getJsonObject("checkpoints").containsKey("broken")).isFalse();
    // not ONNX at all: refused from its first bytes
    assertError(put(trainingJob, "text", "just some text".getBytes()), 422, "body");
    assertError(put(trainingJob, "empty", new byte[0]), 422, "body");
  }

  @Test
  void badNamesAndUnknownTrainingJobs() {
    // refused before the body is read (a client that sends Expect: 100-continue does not even send it)
    byte[] small = java.util.Arrays.copyOf(model, 1000);
    assertError(put(987654321, "best", small), 404, "training_job_id");
    assertError(put(trainingJob, "-starts-with-a-dash", small), 400, "name");
    assertError(put(trainingJob, "a.b.c." + "x".repeat(100), small), 400, "name");
  }
}
