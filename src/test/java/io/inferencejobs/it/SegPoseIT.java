package io.inferencejobs.it;

import io.inferencejobs.inference.Rle;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.inferencejobs.it.BadInputIT.assertError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Segmentation and pose models reach the service as a user's would (PUT under a training job of their task), and a job
 * of each runs through the whole service: upload, job, its event stream, results with masks and keypoints.
 */
class SegPoseIT extends SharedServiceIT {
  static final Path MODELS = Path.of("src/test/resources/models");

  static long trainingJob(String taskType) {
    HttpResponse<Buffer> r = api.post("/api/v1/training_jobs", new JsonObject()
        .put("name", taskType + "-" + UUID.randomUUID()).put("task_type", taskType));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    return r.bodyAsJsonObject().getLong("id");
  }

  static HttpResponse<Buffer> put(long tj, String name, Path model) throws Exception {
    return api.request(HttpMethod.PUT, "/api/v1/training_jobs/" + tj + "/checkpoints/" + name,
        Map.of("Content-Type", "application/octet-stream"), Buffer.buffer(Files.readAllBytes(model)));
  }

  static long lastJob;

  static List<JsonObject> run(long tj, String taskType) {
    String session = api.upload(tj, List.of(Map.entry("person.jpg", JobFlowIT.IMAGES.resolve("person.jpg")),
            Map.entry("horses.jpg", JobFlowIT.IMAGES.resolve("horses.jpg"))))
        .bodyAsJsonObject().getString("inference_session_id");
    long id = api.createJob(new JsonObject().put("training_job_id", tj).put("checkpoint_path", "best")
        .put("inference_type", "batch").put("input_data", new JsonObject().put("inference_session_id", session)
            .put("iou_threshold", 0.7).put("agnostic_nms", true)));
    lastJob = id;
    JsonObject done = api.awaitTerminal(id);
    assertThat(done.getString("status")).isEqualTo("completed");
    // the job's task is the model's
    assertThat(done.getString("task_type")).isEqualTo(taskType);
    return api.allResults(id);
  }

  @Test
  void aSegmentationModelGivesMasksThatDecodeToTheirArea() throws Exception {
    long tj = trainingJob("segmentation");
    HttpResponse<Buffer> r = put(tj, "best", MODELS.resolve("person_seg_yolov8seg_640.onnx"));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    assertThat(r.bodyAsJsonObject().getString("task")).isEqualTo("segment");
    assertThat(r.bodyAsJsonObject().getString("layout")).isEqualTo("segment");
    // a pose model is not a segmentation checkpoint: 422 naming checkpoint_path, and nothing is registered
    assertError(put(tj, "pose", MODELS.resolve("movenet_multipose_yolov8pose_640.onnx")), 422, "checkpoint_path");
    assertThat(api.get("/api/v1/training_jobs/" + tj).bodyAsJsonObject().getJsonObject("checkpoints").fieldNames())
        .containsExactly("best");

    List<JsonObject> results = run(tj, "segmentation");
    JsonObject person = results.get(0);
    JsonArray predictions = person.getJsonArray("predictions");
    assertThat(predictions).hasSize(1);
    JsonObject p = predictions.getJsonObject(0);
    assertThat(p.getString("class_name")).isEqualTo("person");
    assertThat(p.getDouble("confidence")).isCloseTo(0.7561, within(0.01));
    JsonObject mask = p.getJsonObject("mask");
    assertThat(mask.getJsonArray("size")).containsExactly(person.getInteger("height"), person.getInteger("width"));
    assertThat((double) p.getLong("area")).isCloseTo(14_184, within(14_184 * 0.05));
    boolean[] pixels = Rle.decode(mask.getString("counts"), person.getInteger("height"), person.getInteger("width"));
    long area = 0;
    for (boolean b : pixels) {
      area += b ? 1 : 0;
    }
    assertThat(area).isEqualTo(p.getLong("area"));
    assertThat(p.containsKey("keypoints")).isFalse();
    assertThat(results.get(1).getJsonArray("predictions")).isEmpty();

    // ?include= : polygons on request, light listings without masks, and a clear error for anything else
    JsonObject withPolygons = api.get(Api.INF + "/jobs/" + lastJob + "/results?include=masks,polygons")
        .bodyAsJsonObject().getJsonArray("results").getJsonObject(0).getJsonArray("predictions").getJsonObject(0);
    JsonArray outline = withPolygons.getJsonArray("polygon").getJsonArray(0);
    assertThat(outline.size() / 2).isBetween(150, 300); // the reference decoder's contour has 207 points
    for (int i = 0; i < outline.size(); i += 2) {
      assertThat(pixels[outline.getInteger(i + 1) * person.getInteger("width") + outline.getInteger(i)]).isTrue();
    }
    assertThat(withPolygons.getJsonObject("mask")).isEqualTo(mask);
    JsonObject light = api.get(Api.INF + "/jobs/" + lastJob + "/results?include=none").bodyAsJsonObject()
        .getJsonArray("results").getJsonObject(0).getJsonArray("predictions").getJsonObject(0);
    assertThat(light.fieldNames()).containsExactlyInAnyOrder("class_id", "class_name", "confidence", "bbox");
    assertError(api.get(Api.INF + "/jobs/" + lastJob + "/results?include=masks,outlines"), 400, "include");

    // the COCO export carries the mask as its segmentation, with the mask's area
    JsonObject coco = api.get(Api.INF + "/jobs/" + lastJob + "/export?format=coco").bodyAsJsonObject();
    JsonObject annotation = coco.getJsonArray("annotations").getJsonObject(0);
    assertThat(annotation.getJsonObject("segmentation")).isEqualTo(mask);
    assertThat(annotation.getLong("area")).isEqualTo(p.getLong("area"));
    // CSV: the mask's area in its column
    String[] row = api.get(Api.INF + "/jobs/" + lastJob + "/export?format=csv").bodyAsString().split("\r\n")[1]
        .split(",", -1);
    assertThat(row[12]).isEqualTo(String.valueOf(p.getLong("area")));

    // the YOLO export writes the mask's outline, normalised, enclosing about the mask's area
    Map<String, String> yolo = ExportsIT.unzip(api.get(Api.INF + "/jobs/" + lastJob + "/export?format=yolo").body()
        .getBytes());
    String[] line = yolo.get("labels/person.txt").trim().split(" ");
    assertThat(line[0]).isEqualTo("0");
    assertThat((line.length - 1) / 2).isBetween(150, 300);
    double shoelace = 0;
    int n = (line.length - 1) / 2;
    for (int i = 0; i < n; i++) {
      int j = (i + 1) % n;
      double xi = Double.parseDouble(line[1 + 2 * i]);
      double yi = Double.parseDouble(line[2 + 2 * i]);
      assertThat(xi).isBetween(0.0, 1.0);
      assertThat(yi).isBetween(0.0, 1.0);
      shoelace += xi * Double.parseDouble(line[2 + 2 * j]) - Double.parseDouble(line[1 + 2 * j]) * yi;
    }
    double normalisedArea = (double) p.getLong("area") / (person.getInteger("width") * person.getInteger("height"));
    assertThat(Math.abs(shoelace) / 2).isCloseTo(normalisedArea, within(normalisedArea * 0.1));

    // Label Studio: the box and the mask's outline as a polygon, in percent
    JsonArray tasks = new JsonArray(api.get(Api.INF + "/jobs/" + lastJob + "/export?format=labelstudio").bodyAsString());
    JsonArray lsResults = tasks.getJsonObject(0).getJsonArray("predictions").getJsonObject(0).getJsonArray("result");
    JsonObject polygon = lsResults.stream().map(o -> (JsonObject) o)
        .filter(o -> o.getString("type").equals("polygonlabels")).findFirst().orElseThrow();
    assertThat(polygon.getString("from_name")).isEqualTo("polygon");
    assertThat(polygon.getJsonObject("value").getJsonArray("points").size()).isEqualTo((line.length - 1) / 2);
    assertThat(polygon.getJsonObject("value").getJsonArray("polygonlabels")).containsExactly("person");
    assertThat(lsResults.stream().filter(o -> ((JsonObject) o).getString("type").equals("rectanglelabels"))).hasSize(1);

    // the annotated image tints the mask: inside it the picture changed, outside the box it did not
    java.awt.image.BufferedImage drawn = annotated(lastJob);
    java.awt.image.BufferedImage photo = javax.imageio.ImageIO.read(JobFlowIT.IMAGES.resolve("person.jpg").toFile());
    int w = person.getInteger("width");
    double inside = 0;
    double outside = 0;
    int nIn = 0;
    int nOut = 0;
    JsonObject box = p.getJsonObject("bbox");
    for (int i = 0; i < pixels.length; i += 7) {
      int x = i % w;
      int y = i / w;
      if (pixels[i]) {
        inside += ExportsIT.diff(drawn, photo, x, y);
        nIn++;
      } else if (x < box.getDouble("x1") - 15 || x > box.getDouble("x2") + 15 || y > box.getDouble("y2") + 15) {
        outside += ExportsIT.diff(drawn, photo, x, y);
        nOut++;
      }
    }
    assertThat(inside / nIn).isGreaterThan(25);
    assertThat(outside / nOut).isLessThan(8);
  }

  static java.awt.image.BufferedImage annotated(long job) throws Exception {
    HttpResponse<Buffer> r = api.get(Api.INF + "/jobs/" + job + "/images/0?annotated=true");
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(200);
    return javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(r.body().getBytes()));
  }

  @Test
  void aPoseModelGivesNamedKeypoints() throws Exception {
    long tj = trainingJob("pose");
    HttpResponse<Buffer> r = put(tj, "best", MODELS.resolve("movenet_multipose_yolov8pose_640.onnx"));
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    assertThat(r.bodyAsJsonObject().getString("task")).isEqualTo("pose");

    List<JsonObject> results = run(tj, "pose");
    JsonArray predictions = results.get(0).getJsonArray("predictions");
    assertThat(predictions).hasSize(1);
    JsonObject p = predictions.getJsonObject(0);
    assertThat(p.getDouble("confidence")).isCloseTo(0.4955, within(0.01));
    JsonArray keypoints = p.getJsonArray("keypoints");
    assertThat(keypoints).hasSize(17);
    JsonObject nose = keypoints.getJsonObject(0);
    assertThat(nose.getString("name")).isEqualTo("nose");
    assertThat(Math.hypot(nose.getDouble("x") - 242.2, nose.getDouble("y") - 126.5)).isLessThanOrEqualTo(3.0);
    JsonObject ankle = keypoints.getJsonObject(16);
    assertThat(ankle.getString("name")).isEqualTo("right_ankle");
    assertThat(Math.hypot(ankle.getDouble("x") - 233.0, ankle.getDouble("y") - 362.3)).isLessThanOrEqualTo(3.0);
    assertThat(ankle.getDouble("score")).isCloseTo(0.733, within(0.01));
    assertThat(p.containsKey("mask")).isFalse();
    assertThat(results.get(1).getJsonArray("predictions")).isEmpty();

    // COCO keypoints: x, y, v for each of the 17, and the category names them with COCO's skeleton
    JsonObject coco = api.get(Api.INF + "/jobs/" + lastJob + "/export?format=coco").bodyAsJsonObject();
    JsonObject annotation = coco.getJsonArray("annotations").getJsonObject(0);
    JsonArray flat = annotation.getJsonArray("keypoints");
    assertThat(flat).hasSize(51);
    assertThat(flat.getDouble(0)).isEqualTo(nose.getDouble("x"));
    assertThat(flat.getDouble(1)).isEqualTo(nose.getDouble("y"));
    assertThat(flat.getInteger(2)).isEqualTo(nose.getDouble("score") >= 0.5 ? 2 : 1);
    assertThat(annotation.getInteger("num_keypoints")).isEqualTo(17);
    JsonObject category = coco.getJsonArray("categories").getJsonObject(0);
    assertThat(category.getJsonArray("keypoints")).hasSize(17).contains("nose", "right_ankle");
    assertThat(category.getJsonArray("skeleton")).hasSize(19);
    // CSV: the keypoints in one column, "x y score" each
    String csv = api.get(Api.INF + "/jobs/" + lastJob + "/export?format=csv").bodyAsString();
    String[] row = csv.split("\r\n")[1].split(",", -1);
    assertThat(row).hasSize(15);
    assertThat(row[13].split(";")).hasSize(17);
    assertThat(row[13].split(";")[0]).isEqualTo(nose.getValue("x") + " " + nose.getValue("y") + " "
        + nose.getValue("score"));

    // Label Studio: the keypoints scored 0.3 or more (16 of 17 here) as keypointlabels, named
    JsonArray tasks = new JsonArray(api.get(Api.INF + "/jobs/" + lastJob + "/export?format=labelstudio").bodyAsString());
    List<JsonObject> points = tasks.getJsonObject(0).getJsonArray("predictions").getJsonObject(0)
        .getJsonArray("result").stream().map(o -> (JsonObject) o)
        .filter(o -> o.getString("type").equals("keypointlabels")).toList();
    assertThat(points).hasSize(16);
    assertThat(points.get(0).getJsonObject("value").getJsonArray("keypointlabels")).containsExactly("nose");
    assertThat(points.get(0).getJsonObject("value").getDouble("x"))
        .isCloseTo(nose.getDouble("x") / results.get(0).getInteger("width") * 100, within(0.001));

    // YOLO pose labels: class, box, then x y v for each of the 17 keypoints; data.yaml says kpt_shape and flip_idx
    Map<String, String> yolo = ExportsIT.unzip(api.get(Api.INF + "/jobs/" + lastJob + "/export?format=yolo").body()
        .getBytes());
    String[] line = yolo.get("labels/person.txt").trim().split(" ");
    assertThat(line).hasSize(5 + 17 * 3);
    assertThat(Double.parseDouble(line[5]) * results.get(0).getInteger("width")).isCloseTo(nose.getDouble("x"),
        within(0.01));
    assertThat(yolo.get("data.yaml")).contains("kpt_shape: [17, 3]").contains("flip_idx: [0, 2, 1,");

    // the annotated image marks the right ankle (score 0.73): its pixels changed
    java.awt.image.BufferedImage drawn = annotated(lastJob);
    java.awt.image.BufferedImage photo = javax.imageio.ImageIO.read(JobFlowIT.IMAGES.resolve("person.jpg").toFile());
    int ax = (int) Math.round(ankle.getDouble("x"));
    int ay = (int) Math.round(ankle.getDouble("y"));
    assertThat(ExportsIT.diff(drawn, photo, ax, ay)).isGreaterThan(40);
  }

  @Test
  void aClassifierGivesItsTopClassesAndNoBoxes() throws Exception {
    long tj = trainingJob("classification");
    // a real ONNX model that reads each image's mean red, green and blue as the scores of 3 classes
    Path model = Files.createTempFile("classifier", ".onnx");
    HttpResponse<Buffer> r;
    try {
      Files.write(model, io.inferencejobs.inference.TinyOnnx.channelMeans(64, 64));
      r = put(tj, "best", model);
    } finally {
      Files.delete(model);
    }
    assertThat(r.statusCode()).as(r.bodyAsString()).isEqualTo(201);
    assertThat(r.bodyAsJsonObject().getString("task")).isEqualTo("classify");

    List<JsonObject> results = run(tj, "classification");
    JsonObject first = results.get(0);
    assertThat(first.getJsonArray("predictions")).isEmpty();
    assertThat(first.getInteger("num_detections")).isZero();
    JsonArray classes = first.getJsonArray("classifications");
    assertThat(classes).isNotEmpty();
    for (int i = 1; i < classes.size(); i++) {
      assertThat(classes.getJsonObject(i).getDouble("score"))
          .isLessThanOrEqualTo(classes.getJsonObject(i - 1).getDouble("score"));
    }
    assertThat(classes.getJsonObject(0).getString("class_name")).startsWith("class_");
    assertThat(classes.getJsonObject(0).getDouble("score")).isBetween(0.25, 1.0);
    // the JSON lines export carries them too
    String jsonl = api.get(Api.INF + "/jobs/" + lastJob + "/export?format=jsonl").bodyAsString();
    assertThat(new JsonObject(jsonl.lines().findFirst().orElseThrow()).getJsonArray("classifications"))
        .isEqualTo(classes);
    // and the CSV has one row per top class of the first image, box columns empty
    String[] rows = api.get(Api.INF + "/jobs/" + lastJob + "/export?format=csv").bodyAsString().split("\r\n");
    List<String[]> firstImage = java.util.Arrays.stream(rows).skip(1).map(l -> l.split(",", -1))
        .filter(c -> c[0].equals(String.valueOf(first.getInteger("image_index")))).toList();
    assertThat(firstImage).hasSize(classes.size());
    for (int i = 0; i < classes.size(); i++) {
      String[] c = firstImage.get(i);
      assertThat(c).hasSize(15);
      assertThat(c[6]).isEqualTo(classes.getJsonObject(i).getString("class_name"));
      assertThat(Double.parseDouble(c[7])).isEqualTo(classes.getJsonObject(i).getDouble("score"));
      assertThat(c[8]).isEmpty();
    }

    // replaced through the API under the same name, the checkpoint's next job runs the new model at once: workers
    // remember what S3 said of a checkpoint for a few seconds, and a registration makes every one of them forget
    Path constant = Files.createTempFile("classifier", ".onnx");
    try {
      Files.write(constant, io.inferencejobs.inference.TinyOnnx.constant(64, 64, new long[] {1, 3},
          new float[] {0.1f, 0.7f, 0.2f}, Map.of()));
      HttpResponse<Buffer> replaced = put(tj, "best", constant);
      assertThat(replaced.statusCode()).as(replaced.bodyAsString()).isEqualTo(200);
    } finally {
      Files.delete(constant);
    }
    for (JsonObject image : run(tj, "classification")) {
      JsonObject top = image.getJsonArray("classifications").getJsonObject(0);
      assertThat(top.getString("class_name")).isEqualTo("class_1");
      assertThat(top.getDouble("score")).isCloseTo(0.7, org.assertj.core.data.Offset.offset(1e-3));
    }
  }
}
