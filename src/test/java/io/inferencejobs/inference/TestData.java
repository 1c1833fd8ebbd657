package io.inferencejobs.inference;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Paths to the models and photos copied into the repository. */
final class TestData {

  static final Path YOLOV8 = Path.of("src/main/resources/models/centernet_coco80_yolov8.onnx");
  static final Path E2E = Path.of("src/test/resources/models/centernet_coco80_e2e.onnx");
  static final Path RAW = Path.of("src/test/resources/models/centernet_coco80.onnx");
  static final Path IMAGES = Path.of("src/test/resources/images");

  private TestData() {
  }

  static byte[] image(String name) {
    return bytes(IMAGES.resolve(name));
  }

  static byte[] bytes(Path path) {
    try {
      return Files.readAllBytes(path);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static EngineOptions cpu() {
    return EngineOptions.defaults().withDevice("cpu");
  }

  /** The job defaults ({@code jobs.InferenceSettings}) as the engine takes them. */
  static DetectionParams defaultParams() {
    io.inferencejobs.jobs.InferenceSettings d = io.inferencejobs.jobs.InferenceSettings.DEFAULTS;
    return new DetectionParams((float) d.confidenceThreshold(), (float) d.iouThreshold(), d.maxDetections(), null,
        d.agnosticNms());
  }
}
