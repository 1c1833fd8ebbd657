package io.inferencejobs.bench;

import io.inferencejobs.inference.DetectionParams;
import io.inferencejobs.inference.EngineOptions;
import io.inferencejobs.inference.ImageResult;
import io.inferencejobs.inference.InferenceEngine;
import io.inferencejobs.worker.WorkerVerticle;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code bench-tasks}: per task (detect, segment, pose), an image's time split into model and postprocessing (NMS,
 * masks, keypoints) at batch 1 on the CPU, the models interleaved round by round, and the size of a result with and
 * without its masks.
 */
public final class BenchTasksCommand {
  private BenchTasksCommand() {
  }

  public static int run(String[] args) {
    Map<String, String> o = Args.parse(args);
    int rounds = Integer.parseInt(o.getOrDefault("rounds", "15"));
    try {
      bench(rounds);
      return 0;
    } catch (Exception e) {
      System.err.println("bench-tasks failed: " + e);
      e.printStackTrace();
      return 1;
    }
  }

  private static Path model(String name) {
    for (String dir : List.of("src/test/resources/models", "src/main/resources/models", "../shared/models")) {
      Path p = Path.of(dir, name);
      if (Files.isRegularFile(p)) {
        return p;
      }
    }
    throw new IllegalStateException(name + " not found under src/test/resources/models or ../shared/models");
  }

  private static void bench(int rounds) throws Exception {
    String[] names = {"centernet_coco80_yolov8.onnx", "person_seg_yolov8seg_640.onnx",
        "movenet_multipose_yolov8pose_640.onnx"};
    String[] images = {"person.jpg", "astronaut.png"};
    DetectionParams params = new DetectionParams(0.25f, 0.7f, 100, null, true);
    List<InferenceEngine> engines = new ArrayList<>();
    for (String n : names) {
      engines.add(InferenceEngine.load(model(n), EngineOptions.defaults().withDevice("cpu").withBatchSize(1)));
    }
    List<byte[]> photos = new ArrayList<>();
    for (String i : images) {
      photos.add(Files.readAllBytes(Http.sampleImagesDir().resolve(i)));
    }
    // [model][image] -> samples of {total, inference, postprocess}
    List<List<List<double[]>>> samples = new ArrayList<>();
    for (int m = 0; m < names.length; m++) {
      List<List<double[]>> perImage = new ArrayList<>();
      for (int i = 0; i < images.length; i++) {
        perImage.add(new ArrayList<>());
      }
      samples.add(perImage);
    }
    for (int r = -3; r < rounds; r++) { // 3 warm-up rounds
      for (int m = 0; m < names.length; m++) {
        for (int i = 0; i < images.length; i++) {
          ImageResult res = engines.get(m).predict(List.of(photos.get(i)), params).get(0);
          if (r >= 0) {
            samples.get(m).get(i).add(new double[] {res.decodeMs() + res.preprocessMs() + res.inferenceMs()
                + res.postprocessMs(), res.inferenceMs(), res.postprocessMs()});
          }
        }
      }
    }
    System.out.println();
    System.out.println("== bench-tasks (CPU, batch 1, medians of " + rounds + " interleaved rounds) ==");
    System.out.printf("%-40s %-14s %9s %9s %12s %9s %12s %12s%n", "model", "image", "image ms", "model ms",
        "postproc ms", "post/img", "result B", "w/o masks B");
    for (int m = 0; m < names.length; m++) {
      for (int i = 0; i < images.length; i++) {
        List<double[]> s = samples.get(m).get(i);
        double total = median(s, 0);
        double post = median(s, 2);
        ImageResult res = engines.get(m).predict(List.of(photos.get(i)), params).get(0);
        JsonArray json = WorkerVerticle.predictions(res.detections());
        JsonArray light = json.copy();
        light.forEach(p -> {
          ((JsonObject) p).remove("mask");
          ((JsonObject) p).remove("area");
        });
        System.out.printf("%-40s %-14s %9.1f %9.1f %12.2f %8.1f%% %12d %12d%n", names[m], images[i], total,
            median(s, 1), post, 100 * post / total, json.encode().length(), light.encode().length());
      }
    }
    engines.forEach(InferenceEngine::close);
  }

  private static double median(List<double[]> s, int k) {
    double[] v = s.stream().mapToDouble(x -> x[k]).sorted().toArray();
    return v[v.length / 2];
  }
}
