package io.inferencejobs.inference;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import org.junit.jupiter.api.Test;

import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The end-to-end (NMS in the graph) segment, pose and OBB layouts: one row per object, x1, y1, x2, y2, score, class,
 * then the task's columns (Ultralytics' {@code postprocess} of its Segment, Pose and OBB heads; OBB rows are cx, cy,
 * w, h, score, class, angle). No such export is available offline, so each model here is built in the test: the real
 * seg and pose models are run on a photo, the objects they keep are written as end-to-end rows (padded to 300 rows
 * with empty ones, as an export is), and the constant graph that outputs them must give the same results as the
 * real model through the ordinary layout.
 */
class EndToEndLayoutTest {
  static final int K = 300;

  /** One output of a real model: its shape and its values. */
  private record Raw(long[] shape, float[] values) {
    FloatBuffer buffer() {
      return FloatBuffer.wrap(values);
    }
  }

  /** The outputs of a real model on one photo, prepared by the engine exactly as predict() prepares it. */
  private static Map<String, Raw> raw(InferenceEngine engine, byte[] model, byte[] photo) throws Exception {
    PreparedImage prepared = engine.prepare(photo);
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    ModelDescriptor d = engine.descriptor();
    Map<String, Raw> out = new LinkedHashMap<>();
    try (OrtSession session = env.createSession(model, new OrtSession.SessionOptions());
         OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(prepared.tensor),
             new long[] {1, 3, d.inputHeight(), d.inputWidth()});
         OrtSession.Result result = session.run(Map.of(d.inputName(), in))) {
      result.forEach(e -> {
        OnnxTensor t = (OnnxTensor) e.getValue();
        FloatBuffer b = t.getFloatBuffer();
        float[] v = new float[b.remaining()];
        b.get(v);
        out.put(e.getKey(), new Raw(t.getInfo().getShape(), v));
      });
    }
    return out;
  }

  private static Map<String, String> metadata(byte[] model, boolean withEnd2endFlag) throws Exception {
    try (OrtSession s = OrtEnvironment.getEnvironment().createSession(model, new OrtSession.SessionOptions())) {
      Map<String, String> meta = new HashMap<>(s.getMetadata().getCustomMetadata());
      meta.remove("end2end");
      if (withEnd2endFlag) {
        meta.put("end2end", "True");
      }
      return meta;
    }
  }

  /**
   * End-to-end rows from the ordinary layout's kept candidates: the box as x1, y1, x2, y2, then score and class,
   * then {@code extra} values read from the rows after the class scores. Rows past the objects are zero.
   */
  private static float[] rows(List<Candidate> kept, FloatBuffer out, int rows, int anchors, int extra) {
    int cols = 6 + extra;
    float[] v = new float[K * cols];
    for (int i = 0; i < kept.size(); i++) {
      Candidate c = kept.get(i);
      int b = i * cols;
      v[b] = c.x1();
      v[b + 1] = c.y1();
      v[b + 2] = c.x2();
      v[b + 3] = c.y2();
      v[b + 4] = c.score();
      v[b + 5] = c.classId();
      for (int k = 0; k < extra; k++) {
        v[b + 6 + k] = out.get((rows - extra + k) * anchors + c.index());
      }
    }
    return v;
  }

  @Test
  void segmentEndToEndGivesTheSameMasksAsTheRealModel() throws Exception {
    byte[] model = Files.readAllBytes(SegPoseTest.SEG);
    byte[] photo = TestData.image("person.jpg");
    try (InferenceEngine real = InferenceEngine.load(model, null, TestData.cpu())) {
      List<Detection> expected = real.predict(List.of(photo), SegPoseTest.README).get(0).detections();
      assertThat(expected).hasSize(1);
      Map<String, Raw> out = raw(real, model, photo);
      Raw o0 = out.get("output0"); // [1, 4+1+32, 8400]
      Raw o1 = out.get("output1"); // [1, 32, 160, 160]
      int nm = (int) o1.shape()[1];
      List<Candidate> kept = Decoders.decode(OutputLayout.SEGMENT, o0.buffer(), 0, o0.shape(), SegPoseTest.README,
          nm);
      Map<String, TinyOnnx.Constant> outputs = new LinkedHashMap<>();
      outputs.put("output0", new TinyOnnx.Constant(new long[] {1, K, 6 + nm},
          rows(kept, o0.buffer(), (int) o0.shape()[1], (int) o0.shape()[2], nm)));
      outputs.put("output1", new TinyOnnx.Constant(o1.shape(), o1.values()));

      byte[] e2e = TinyOnnx.constants(640, 640, outputs, metadata(model, true));
      try (InferenceEngine engine = InferenceEngine.load(e2e, null, TestData.cpu())) {
        assertThat(engine.descriptor().outputLayout()).isEqualTo(OutputLayout.SEGMENT_E2E);
        assertThat(engine.descriptor().task()).isEqualTo("segment");
        assertThat(engine.descriptor().classNames()).containsExactly("person");
        List<Detection> got = engine.predict(List.of(photo), SegPoseTest.README).get(0).detections();
        assertThat(got).hasSize(1); // the 299 empty rows score 0 and are dropped
        Detection e = expected.get(0);
        Detection g = got.get(0);
        assertThat(g.confidence()).isEqualTo(e.confidence());
        assertThat(g.bbox()).isEqualTo(e.bbox());
        assertThat(g.mask().area()).isGreaterThan(10_000);
        assertThat(g.mask()).isEqualTo(e.mask()); // the same pixels, to the last run of the RLE
      }
    }
  }

  @Test
  void poseEndToEndGivesTheSameKeypointsAndIsToldByItsShapeWithoutTheFlag() throws Exception {
    byte[] model = Files.readAllBytes(SegPoseTest.POSE);
    byte[] photo = TestData.image("person.jpg");
    try (InferenceEngine real = InferenceEngine.load(model, null, TestData.cpu())) {
      List<Detection> expected = real.predict(List.of(photo), SegPoseTest.README).get(0).detections();
      assertThat(expected).isNotEmpty();
      Raw o0 = raw(real, model, photo).values().iterator().next(); // [1, 4+1+17*3, 6]
      int nk = 17 * 3;
      List<Candidate> kept = Decoders.decode(OutputLayout.POSE, o0.buffer(), 0, o0.shape(), SegPoseTest.README, nk);
      float[] rows = rows(kept, o0.buffer(), (int) o0.shape()[1], (int) o0.shape()[2], nk);

      // no end2end entry: [1, 300, 57] is told from [1, 56, 8400] by its long axis
      byte[] e2e = TinyOnnx.constant(640, 640, new long[] {1, K, 6 + nk}, rows, metadata(model, false));
      try (InferenceEngine engine = InferenceEngine.load(e2e, null, TestData.cpu())) {
        assertThat(engine.descriptor().outputLayout()).isEqualTo(OutputLayout.POSE_E2E);
        assertThat(engine.descriptor().task()).isEqualTo("pose");
        List<Detection> got = engine.predict(List.of(photo), SegPoseTest.README).get(0).detections();
        assertThat(got).hasSameSizeAs(expected);
        for (int i = 0; i < got.size(); i++) {
          assertThat(got.get(i).bbox()).isEqualTo(expected.get(i).bbox());
          assertThat(got.get(i).keypoints()).hasSize(17).isEqualTo(expected.get(i).keypoints());
        }
        assertThat(got.get(0).keypoints().get(0).name()).isEqualTo("nose");
      }
    }
  }

  @Test
  void obbEndToEndTrustsTheGraphsSelectionAndMapsTheBoxesBack() throws Exception {
    float q = ObbTest.QUARTER;
    float[][] objects = { // cx, cy, w, h, score, class, angle; unsorted, as a graph may give them
        {320, 320, 200, 40, 0.70f, 1, -q},
        {320, 320, 200, 40, 0.90f, 1, q},
        {322, 318, 200, 40, 0.80f, 1, q + 0.05f}, // overlaps the second: the graph kept it, so it stays
        {100, 100, 30, 30, 0.10f, 0, 0f}}; // under the threshold
    float[] v = new float[K * 7];
    for (int i = 0; i < objects.length; i++) {
      System.arraycopy(objects[i], 0, v, i * 7, 7);
    }
    byte[] model = TinyOnnx.constant(640, 640, new long[] {1, K, 7}, v,
        Map.of("task", "obb", "names", "{0: 'plane', 1: 'ship'}", "imgsz", "[640, 640]", "end2end", "True"));
    try (InferenceEngine engine = InferenceEngine.load(model, null, TestData.cpu())) {
      assertThat(engine.descriptor().outputLayout()).isEqualTo(OutputLayout.OBB_E2E);
      assertThat(engine.descriptor().classNames()).containsExactly("plane", "ship");
      List<Detection> r = engine.predict(List.of(TestData.image("dog.jpg")),
          new DetectionParams(0.25f, 0.45f, 100, null, false)).get(0).detections();
      assertThat(r).extracting(Detection::confidence).containsExactly(0.90f, 0.80f, 0.70f);
      double gain = 640.0 / 768; // dog.jpg is 768x576: 80 px of padding above and below
      Obb a = r.get(0).obb();
      assertThat((double) a.cx()).isCloseTo(320 / gain, within(0.01));
      assertThat((double) a.cy()).isCloseTo((320 - 80) / gain, within(0.01));
      assertThat((double) a.w()).isCloseTo(200 / gain, within(0.01));
      assertThat(a.angle()).isCloseTo(q, within(1e-6f));
      assertThat(r.get(0).className()).isEqualTo("ship");

      // the limit still applies
      assertThat(engine.predict(List.of(TestData.image("dog.jpg")),
          new DetectionParams(0.25f, 0.45f, 2, null, false)).get(0).detections()).hasSize(2);
    }
  }

  @Test
  void endToEndOutputsThatDoNotFitTheirTaskAreRefusedNamingTheShapes() {
    float[] protos = new float[32 * 4 * 4];
    Map<String, TinyOnnx.Constant> seg = new LinkedHashMap<>();
    seg.put("output0", new TinyOnnx.Constant(new long[] {1, K, 6 + 30}, new float[K * 36]));
    seg.put("output1", new TinyOnnx.Constant(new long[] {1, 32, 4, 4}, protos));
    assertThatThrownBy(() -> InferenceEngine.load(TinyOnnx.constants(640, 640, seg,
        Map.of("task", "segment", "names", "{0: 'person'}", "end2end", "True")), null, TestData.cpu()))
        .isInstanceOf(ModelException.class)
        .hasMessageContaining("[1,300,36]").hasMessageContaining("[1,32,4,4]")
        .hasMessageContaining("6 + 32 = 38 columns");

    assertThatThrownBy(() -> InferenceEngine.load(TinyOnnx.constant(640, 640, new long[] {1, K, 6 + 50},
        new float[K * 56], Map.of("task", "pose", "names", "{0: 'person'}", "kpt_shape", "[17, 3]",
            "end2end", "True")), null, TestData.cpu()))
        .isInstanceOf(ModelException.class)
        .hasMessageContaining("56 columns").hasMessageContaining("kpt_shape [17, 3] = 57 columns");

    assertThatThrownBy(() -> InferenceEngine.load(TinyOnnx.constant(640, 640, new long[] {1, K, 8},
        new float[K * 8], Map.of("task", "obb", "names", "{0: 'ship'}", "end2end", "True")), null, TestData.cpu()))
        .isInstanceOf(ModelException.class)
        .hasMessageContaining("[1,300,8]").hasMessageContaining("obb_e2e [N,K,7]");
  }

  @Test
  void layoutsAreToldFromTaskFlagAndShape() {
    assertThat(OutputLayout.detect(new long[] {1, 300, 38}, 1, true, "segment")).isEqualTo(OutputLayout.SEGMENT_E2E);
    assertThat(OutputLayout.detect(new long[] {1, 37, 8400}, 1, null, "segment")).isEqualTo(OutputLayout.SEGMENT);
    assertThat(OutputLayout.detect(new long[] {1, 37, 8400}, 1, false, "segment")).isEqualTo(OutputLayout.SEGMENT);
    assertThat(OutputLayout.detect(new long[] {1, 300, 57}, 1, null, "pose")).isEqualTo(OutputLayout.POSE_E2E);
    assertThat(OutputLayout.detect(new long[] {1, 300, 7}, 2, null, "obb")).isEqualTo(OutputLayout.OBB_E2E);
    assertThat(OutputLayout.detect(new long[] {1, 7, 8400}, 2, null, "obb")).isEqualTo(OutputLayout.OBB);
    assertThat(OutputLayout.parse("segment-e2e")).isEqualTo(OutputLayout.SEGMENT_E2E);
    assertThat(OutputLayout.parse("pose_end2end")).isEqualTo(OutputLayout.POSE_E2E);
    assertThat(OutputLayout.OBB_E2E.task()).isEqualTo("obb");
  }
}
