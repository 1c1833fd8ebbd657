package io.inferencejobs.inference;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The OBB layout. No real OBB model can be had offline, so the model here is built in the test: an ONNX graph whose
 * output is a constant [1, 4+nc+1, A] tensor in the Ultralytics OBB export layout, run by ONNX Runtime like any model.
 */
class ObbTest {
  static final float QUARTER = (float) (Math.PI / 4);

  /** Three boxes of class 1 (of 2) around the input's centre: A at +45°, B nearly A, C at -45° (same bounds as A). */
  static byte[] model() {
    float[][] boxes = { // cx, cy, w, h, score class 0, score class 1, angle
        {320, 320, 200, 40, 0.01f, 0.90f, QUARTER},
        {322, 318, 200, 40, 0.01f, 0.80f, QUARTER + 0.05f},
        {320, 320, 200, 40, 0.01f, 0.70f, -QUARTER},
        {100, 100, 30, 30, 0.10f, 0.10f, 0f}}; // under the threshold
    int rows = 7;
    int anchors = boxes.length;
    float[] values = new float[rows * anchors];
    for (int a = 0; a < anchors; a++) {
      for (int r = 0; r < rows; r++) {
        values[r * anchors + a] = boxes[a][r];
      }
    }
    return TinyOnnx.constant(640, 640, new long[] {1, rows, anchors}, values,
        Map.of("task", "obb", "names", "{0: 'plane', 1: 'ship'}", "imgsz", "[640, 640]"));
  }

  @Test
  void rotatedNmsKeepsTheCrossingBoxAndMapsCornersBackThroughTheLetterbox() throws Exception {
    try (InferenceEngine engine = InferenceEngine.load(model(), null, TestData.cpu())) {
      assertThat(engine.descriptor().outputLayout()).isEqualTo(OutputLayout.OBB);
      assertThat(engine.descriptor().task()).isEqualTo("obb");
      assertThat(engine.descriptor().classNames()).containsExactly("plane", "ship");
      // dog.jpg is 768x576: gain 640/768, 80 px of padding above and below
      ImageResult r = engine.predict(List.of(TestData.image("dog.jpg")),
          new DetectionParams(0.25f, 0.45f, 100, null, false)).get(0);
      // B overlaps A by far more than 0.45 once rotated and goes; C crosses A (IoU about 0.11) and stays, although
      // their upright bounds are the same box: an axis-aligned NMS would have dropped it
      assertThat(r.detections()).hasSize(2);
      Detection a = r.detections().get(0);
      Detection c = r.detections().get(1);
      assertThat(a.className()).isEqualTo("ship");
      assertThat(a.confidence()).isCloseTo(0.90f, within(1e-6f));
      assertThat(c.confidence()).isCloseTo(0.70f, within(1e-6f));
      double gain = 640.0 / 768;
      assertThat((double) a.obb().cx()).isCloseTo(320 / gain, within(0.01));
      assertThat((double) a.obb().cy()).isCloseTo((320 - 80) / gain, within(0.01));
      assertThat((double) a.obb().w()).isCloseTo(200 / gain, within(0.01));
      assertThat((double) a.obb().h()).isCloseTo(40 / gain, within(0.01));
      assertThat(a.obb().angle()).isCloseTo(QUARTER, within(1e-6f));
      assertThat((double) c.obb().angle()).isCloseTo(-QUARTER, within(1e-6));
      // the corners are the rotated rectangle's, and the box is their bounds
      float[] k = a.obb().corners();
      double side01 = Math.hypot(k[2] - k[0], k[3] - k[1]);
      double side12 = Math.hypot(k[4] - k[2], k[5] - k[3]);
      assertThat(side01).isCloseTo(200 / gain, within(0.01));
      assertThat(side12).isCloseTo(40 / gain, within(0.01));
      assertThat((double) a.bbox().x1()).isCloseTo(Math.min(Math.min(k[0], k[2]), Math.min(k[4], k[6])),
          within(0.01));
      assertThat(a.mask()).isNull();
      assertThat(a.keypoints()).isNull();

      // drawn: the rotated outline changes the photo on its edge, the corner of its upright bounds stays as it was
      java.awt.image.BufferedImage drawn = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(
          Annotator.annotate(TestData.image("dog.jpg"), r.detections(), 100_000_000)));
      java.awt.image.BufferedImage photo = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(
          TestData.image("dog.jpg")));
      double edge = 0;
      for (int i = 0; i < 30; i++) { // along the long side, away from its ends and from the tag
        double t = 0.35 + 0.5 * i / 30;
        int x = (int) Math.round(k[0] + (k[2] - k[0]) * t);
        int y = (int) Math.round(k[1] + (k[3] - k[1]) * t);
        edge += colourDistance(drawn.getRGB(x, y), photo.getRGB(x, y));
      }
      assertThat(edge / 30).isGreaterThan(40);
      double corner = 0;
      for (int i = 0; i < 5; i++) { // the bottom-right corner of the upright bounds: outside both rotated boxes
        for (int j = 0; j < 5; j++) {
          int x = Math.round(a.bbox().x2()) - 6 - i;
          int y = Math.round(a.bbox().y2()) - 6 - j;
          corner += colourDistance(drawn.getRGB(x, y), photo.getRGB(x, y));
        }
      }
      assertThat(corner / 25).isLessThan(12);
    }
  }

  static int colourDistance(int p, int q) {
    int d = 0;
    for (int shift = 0; shift <= 16; shift += 8) {
      d = Math.max(d, Math.abs(((p >> shift) & 0xFF) - ((q >> shift) & 0xFF)));
    }
    return d;
  }

  @Test
  void rotatedIouOfCrossingAndIdenticalBoxes() {
    float[] a = Obb.corners(0, 0, 200, 40, 0);
    float[] b = Obb.corners(0, 0, 200, 40, (float) (Math.PI / 2));
    assertThat(RotatedNms.iou(a, 8000, b, 8000)).isCloseTo(1600.0 / 14400, within(1e-4));
    assertThat(RotatedNms.iou(a, 8000, a, 8000)).isCloseTo(1.0, within(1e-6));
    float[] far = Obb.corners(500, 0, 200, 40, 0.3f);
    assertThat(RotatedNms.iou(a, 8000, far, 8000)).isZero();
  }
}
