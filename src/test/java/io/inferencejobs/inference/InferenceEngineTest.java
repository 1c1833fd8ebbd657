package io.inferencejobs.inference;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InferenceEngineTest {

  private static InferenceEngine yolov8;

  @BeforeAll
  static void load() throws Exception {
    yolov8 = InferenceEngine.load(TestData.YOLOV8, TestData.cpu());
  }

  @AfterAll
  static void close() {
    yolov8.close();
  }

  @Test
  void describesTheYolov8ModelFromItsMetadata() {
    ModelDescriptor d = yolov8.descriptor();
    assertThat(yolov8.provider()).isEqualTo("CPU");
    assertThat(yolov8.batchSize()).isEqualTo(8);
    assertThat(d.inputName()).isEqualTo("images");
    assertThat(d.inputLayout()).isEqualTo(InputLayout.NCHW);
    assertThat(d.inputWidth()).isEqualTo(640);
    assertThat(d.inputHeight()).isEqualTo(640);
    assertThat(d.resize()).isEqualTo(ResizeMode.LETTERBOX);
    assertThat(d.padValue()).isEqualTo(114);
    assertThat(d.pixelRange()).isEqualTo(1f);
    assertThat(d.outputName()).isEqualTo("output0");
    assertThat(d.outputLayout()).isEqualTo(OutputLayout.YOLOV8);
    assertThat(d.task()).isEqualTo("detect");
    assertThat(d.dynamicBatch()).isTrue();
    assertThat(d.classNames()).hasSize(80).startsWith("person", "bicycle", "car").endsWith("toothbrush");
    assertThat(d.classNames().get(58)).isEqualTo("potted plant");
  }

  @Test
  void yolov8FileGivesTheReadmeDetections() throws Exception {
    List<byte[]> images = new ArrayList<>();
    for (String[] row : ExpectedDetections.WRAPPED) {
      images.add(TestData.image(row[0]));
    }
    List<ImageResult> results = yolov8.predict(images, TestData.defaultParams());
    for (int i = 0; i < results.size(); i++) {
      ExpectedDetections.assertMatches(ExpectedDetections.WRAPPED[i][0], results.get(i), ExpectedDetections.WRAPPED[i]);
    }
  }

  @Test
  void e2eFileGivesTheSameDetections() throws Exception {
    try (InferenceEngine e2e = InferenceEngine.load(TestData.E2E, TestData.cpu())) {
      assertThat(e2e.descriptor().outputLayout()).isEqualTo(OutputLayout.END2END);
      for (String[] row : ExpectedDetections.WRAPPED) {
        ImageResult r = e2e.predict(List.of(TestData.image(row[0])), TestData.defaultParams()).get(0);
        ExpectedDetections.assertMatches(row[0], r, row);
      }
    }
  }

  @Test
  void rawModelRunsThroughASidecarDescriptor(@TempDir Path dir) throws Exception {
    Path model = dir.resolve("centernet.onnx");
    Files.copy(TestData.RAW, model);
    Files.writeString(dir.resolve("centernet.json"), rawDescriptor().toJson());

    try (InferenceEngine raw = InferenceEngine.load(model, TestData.cpu())) {
      ModelDescriptor d = raw.descriptor();
      assertThat(d.inputLayout()).isEqualTo(InputLayout.NHWC);
      assertThat(d.inputWidth()).isEqualTo(512);
      assertThat(d.resize()).isEqualTo(ResizeMode.STRETCH);
      assertThat(d.outputName()).isEqualTo("detections");
      assertThat(d.outputLayout()).isEqualTo(OutputLayout.END2END);
      assertThat(raw.batchSize()).as("the raw model's batch axis is fixed at 1").isEqualTo(1);
      List<byte[]> images = new ArrayList<>();
      for (String[] row : ExpectedDetections.RAW) {
        images.add(TestData.image(row[0]));
      }
      List<ImageResult> results = raw.predict(images, TestData.defaultParams());
      for (int i = 0; i < results.size(); i++) {
        ExpectedDetections.assertMatches(ExpectedDetections.RAW[i][0], results.get(i), ExpectedDetections.RAW[i]);
      }
    }
  }

  @Test
  void rawModelRunsThroughAnExplicitDescriptor() throws Exception {
    try (InferenceEngine raw = InferenceEngine.load(TestData.bytes(TestData.RAW), rawDescriptor(), TestData.cpu())) {
      ImageResult r = raw.predict(List.of(TestData.image("dog.jpg")), TestData.defaultParams()).get(0);
      ExpectedDetections.assertMatches("dog.jpg", r, ExpectedDetections.RAW[0]);
    }
  }

  @Test
  void batchSizeDoesNotChangeResults() throws Exception {
    List<byte[]> images = new ArrayList<>();
    for (String name : List.of("dog.jpg", "person.jpg", "horses.jpg", "giraffe.jpg", "eagle.jpg")) {
      images.add(TestData.image(name));
    }
    List<PreparedImage> prepared = new ArrayList<>();
    for (byte[] b : images) {
      prepared.add(yolov8.prepare(b));
    }
    List<ImageResult> batched;
    List<ImageResult> single;
    try (InferenceEngine four = InferenceEngine.load(TestData.YOLOV8, TestData.cpu().withBatchSize(4));
         InferenceEngine one = InferenceEngine.load(TestData.YOLOV8, TestData.cpu().withBatchSize(1))) {
      batched = four.predict(images, TestData.defaultParams());
      single = one.predict(images, TestData.defaultParams());
    }
    List<ImageResult> viaInfer = yolov8.infer(prepared, TestData.defaultParams());
    for (int i = 0; i < images.size(); i++) {
      assertThat(batched.get(i).detections()).isNotEmpty().isEqualTo(single.get(i).detections());
      assertThat(viaInfer.get(i).detections()).isEqualTo(single.get(i).detections());
    }
  }

  @Test
  void agnosticNmsAndClassFilterApply() throws Exception {
    byte[] dog = TestData.image("dog.jpg");
    ImageResult agnostic = yolov8.predict(List.of(dog), TestData.defaultParams().withAgnosticNms(true)).get(0);
    // car and truck share one box: agnostic NMS keeps only the car
    assertThat(agnostic.detections()).extracting(Detection::className).contains("car").doesNotContain("truck");
    ImageResult dogsOnly = yolov8.predict(List.of(dog),
        new DetectionParams(0.25f, 0.45f, 100, java.util.Set.of(16), false)).get(0);
    assertThat(dogsOnly.detections()).extracting(Detection::className).containsExactly("dog");
    ImageResult top2 = yolov8.predict(List.of(dog), new DetectionParams(0.25f, 0.45f, 2, null, false)).get(0);
    assertThat(top2.detections()).extracting(Detection::className).containsExactly("car", "bicycle");
  }

  @Test
  void resultsCarryStageTimes() throws Exception {
    ImageResult r = yolov8.predict(List.of(TestData.image("dog.jpg")), TestData.defaultParams()).get(0);
    assertThat(r.decodeMs()).isPositive();
    assertThat(r.preprocessMs()).isPositive();
    assertThat(r.inferenceMs()).isPositive();
    assertThat(r.postprocessMs()).isPositive();
  }

  static ModelDescriptor rawDescriptor() {
    return new ModelDescriptor(null, InputLayout.NHWC, 512, 512, 255f, null, null, "RGB", ResizeMode.STRETCH, null,
        yolov8.descriptor().classNames(), "detections", OutputLayout.END2END, "detect", null);
  }
}
