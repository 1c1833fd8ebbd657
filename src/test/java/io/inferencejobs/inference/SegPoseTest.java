package io.inferencejobs.inference;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The YOLOv8-seg and YOLOv8-pose layouts on the real models and photos, against the outputs of an independent decoder
 * (models/README.md): boxes by IoU, scores within 0.01, mask areas within 5%, keypoints within 3 px.
 */
class SegPoseTest {
  static final Path SEG = Path.of("src/test/resources/models/person_seg_yolov8seg_640.onnx");
  static final Path POSE = Path.of("src/test/resources/models/movenet_multipose_yolov8pose_640.onnx");
  /** The README's settings: conf 0.25, class-agnostic NMS at IoU 0.7. */
  static final DetectionParams README = new DetectionParams(0.25f, 0.7f, 100, null, true);

  static InferenceEngine seg;
  static InferenceEngine pose;

  @BeforeAll
  static void load() throws Exception {
    seg = InferenceEngine.load(SEG, TestData.cpu());
    pose = InferenceEngine.load(POSE, TestData.cpu());
  }

  @AfterAll
  static void close() {
    seg.close();
    pose.close();
  }

  @Test
  void theModelsSayTheirTask() {
    assertThat(seg.descriptor().task()).isEqualTo("segment");
    assertThat(seg.descriptor().outputLayout()).isEqualTo(OutputLayout.SEGMENT);
    assertThat(seg.descriptor().classNames()).containsExactly("person");
    assertThat(pose.descriptor().task()).isEqualTo("pose");
    assertThat(pose.descriptor().outputLayout()).isEqualTo(OutputLayout.POSE);
  }

  @Test
  void masksMatchTheReferenceAndTheirRleDecodesToTheSamePixels() throws Exception {
    List<ImageResult> r = seg.predict(List.of(TestData.image("person.jpg"), TestData.image("astronaut.png"),
        TestData.image("horses.jpg"), TestData.image("dog.jpg")), README);
    check(r.get(0), 0.7561, new float[] {190.9f, 104.0f, 272.7f, 379.4f}, 14_184);
    check(r.get(1), 0.6241, new float[] {10.3f, 9.4f, 368.4f, 512.0f}, 112_833);
    assertThat(r.get(2).detections()).isEmpty();
    assertThat(r.get(3).detections()).isEmpty();

    Mask m = r.get(0).detections().get(0).mask();
    assertThat(m.height()).isEqualTo(r.get(0).height());
    assertThat(m.width()).isEqualTo(r.get(0).width());
    boolean[] pixels = Rle.decode(m.counts(), m.height(), m.width());
    long area = 0;
    BBox box = r.get(0).detections().get(0).bbox();
    for (int y = 0; y < m.height(); y++) {
      for (int x = 0; x < m.width(); x++) {
        if (pixels[y * m.width() + x]) {
          area++;
          // every mask pixel lies in its box
          assertThat(x + 1f).isGreaterThan(box.x1());
          assertThat((float) x).isLessThan(box.x2());
          assertThat(y + 1f).isGreaterThan(box.y1());
          assertThat((float) y).isLessThan(box.y2());
        }
      }
    }
    assertThat(area).isEqualTo(m.area());

    // its outer contour: on the mask's pixels, enclosing about its area (the README's decoder found 207 points)
    List<int[]> contours = Contours.outer(pixels, m.width(), m.height(), 1);
    int[] outline = contours.get(0);
    for (int i = 0; i < outline.length; i += 2) {
      assertThat(pixels[outline[i + 1] * m.width() + outline[i]]).isTrue();
    }
    assertThat(Contours.area(outline)).isCloseTo(m.area(), within(m.area() * 0.1));
    assertThat(outline.length / 2).isBetween(180, 280);
  }

  @Test
  void contoursTraceEachPieceLargestFirst() {
    // a 5x4 block and a lone pixel, on a 12x8 mask
    int w = 12;
    int h = 8;
    boolean[] mask = new boolean[w * h];
    for (int y = 2; y < 6; y++) {
      for (int x = 1; x < 6; x++) {
        mask[y * w + x] = true;
      }
    }
    mask[1 * w + 9] = true;
    List<int[]> c = Contours.outer(mask, w, h, 1);
    assertThat(c).hasSize(2);
    // the block: its four corners, clockwise from the top-left
    assertThat(c.get(0)).containsExactly(1, 2, 5, 2, 5, 5, 1, 5);
    assertThat(Contours.area(c.get(0))).isEqualTo(12.0);
    assertThat(c.get(1)).containsExactly(9, 1);
    assertThat(Contours.outer(mask, w, h, 2)).hasSize(1);
  }

  private static void check(ImageResult r, double score, float[] box, long area) {
    assertThat(r.error()).isNull();
    Detection top = r.detections().get(0);
    assertThat(top.className()).isEqualTo("person");
    assertThat((double) top.confidence()).isCloseTo(score, within(0.01));
    assertThat(iou(top.bbox(), box)).isGreaterThanOrEqualTo(0.9);
    assertThat((double) top.mask().area()).isCloseTo(area, within(area * 0.05));
    assertThat(top.keypoints()).isNull();
  }

  /** README-pose-seg.md's keypoints of the person in person.jpg: x, y, score. */
  static final double[][] PERSON_KEYPOINTS = {
      {242.2, 126.5, 0.544}, {236.5, 121.4, 0.421}, {246.4, 122.0, 0.501}, {223.7, 123.6, 0.546},
      {240.5, 124.4, 0.547}, {198.4, 150.3, 0.629}, {243.2, 152.9, 0.718}, {193.1, 195.4, 0.622},
      {252.9, 201.6, 0.540}, {218.6, 221.2, 0.241}, {262.9, 234.9, 0.668}, {208.3, 231.8, 0.678},
      {235.4, 234.1, 0.798}, {219.0, 293.9, 0.633}, {241.9, 297.2, 0.619}, {217.1, 355.6, 0.488},
      {233.0, 362.3, 0.733}};

  /** The same for astronaut.png. */
  static final double[][] ASTRONAUT_KEYPOINTS = {
      {223.7, 122.3, 0.672}, {247.2, 103.0, 0.648}, {204.4, 99.5, 0.875}, {273.3, 116.7, 0.675},
      {177.6, 107.8, 0.684}, {304.1, 257.7, 0.639}, {112.7, 236.3, 0.596}, {323.0, 395.5, 0.275},
      {79.4, 394.7, 0.164}, {316.5, 439.2, 0.065}, {100.5, 460.0, 0.033}, {264.8, 498.9, 0.114},
      {112.0, 497.3, 0.161}, {342.7, 489.6, 0.025}, {140.9, 504.2, 0.060}, {250.4, 451.8, 0.021},
      {166.3, 487.6, 0.009}};

  @Test
  void keypointsMatchTheReferenceByNameAndPosition() throws Exception {
    List<ImageResult> r = pose.predict(List.of(TestData.image("person.jpg"), TestData.image("astronaut.png"),
        TestData.image("horses.jpg"), TestData.image("dog.jpg")), README);
    Detection person = r.get(0).detections().get(0);
    assertThat(r.get(0).detections()).hasSize(1);
    assertThat((double) person.confidence()).isCloseTo(0.4955, within(0.01));
    assertThat(iou(person.bbox(), new float[] {188.0f, 99.2f, 274.7f, 375.1f})).isGreaterThanOrEqualTo(0.9);
    assertThat(person.mask()).isNull();
    assertThat(person.keypoints()).extracting(Keypoint::name).isEqualTo(Keypoints.COCO);
    for (int k = 0; k < 17; k++) {
      Keypoint kp = person.keypoints().get(k);
      assertThat(Math.hypot(kp.x() - PERSON_KEYPOINTS[k][0], kp.y() - PERSON_KEYPOINTS[k][1]))
          .as(kp.name()).isLessThanOrEqualTo(3.0);
      assertThat((double) kp.score()).as(kp.name()).isCloseTo(PERSON_KEYPOINTS[k][2], within(0.01));
    }
    // astronaut.png (512 px, scaled up to 640): every keypoint within 3 px and 0.01, the faint ones too (hips, knees,
    // ankles out of the frame, scores 0.01-0.17), which move by up to 16 px when the resize is not rounded to 8 bits
    Detection astronaut = r.get(1).detections().get(0);
    assertThat(r.get(1).detections()).hasSize(1);
    assertThat((double) astronaut.confidence()).isCloseTo(0.5016, within(0.01));
    assertThat(iou(astronaut.bbox(), new float[] {17.6f, 11.2f, 361.1f, 509.1f})).isGreaterThanOrEqualTo(0.9);
    for (int k = 0; k < 17; k++) {
      Keypoint kp = astronaut.keypoints().get(k);
      assertThat(Math.hypot(kp.x() - ASTRONAUT_KEYPOINTS[k][0], kp.y() - ASTRONAUT_KEYPOINTS[k][1]))
          .as(kp.name()).isLessThanOrEqualTo(3.0);
      assertThat((double) kp.score()).as(kp.name()).isCloseTo(ASTRONAUT_KEYPOINTS[k][2], within(0.01));
    }
    assertThat(r.get(2).detections()).isEmpty();
    assertThat(r.get(3).detections()).isEmpty();
  }

  @Test
  void rleIsWhatPycocotoolsWrites() {
    // a 4x3 mask (height 4, width 3), column-major runs: 1 zero, 2 ones, 5 zeros, 3 ones, 1 zero
    boolean[] region = new boolean[4 * 3];
    int[][] on = {{1, 0}, {2, 0}, {0, 2}, {1, 2}, {2, 2}};
    for (int[] p : on) {
      region[p[0] * 3 + p[1]] = true;
    }
    String counts = Rle.encode(region, 0, 0, 3, 4, 4, 3);
    assertThat(Rle.counts(counts)).containsExactly(1, 2, 5, 3, 1);
    // pycocotools' rleToString of [1, 2, 5, 3, 1]: the first three as they are ("1", "2", "5"), then each minus the
    // count two before: 3-2=1 "1", 1-5=-4, whose 5 low bits 28 end the number (sign bit set, rest -1): 28+48 "L"
    assertThat(counts).isEqualTo("1251L");
    assertThat(Rle.decode(counts, 4, 3)).isEqualTo(region);
    // long runs take continuation characters and come back exact
    boolean[] big = new boolean[1000 * 800];
    for (int y = 100; y < 900; y++) {
      for (int x = 300; x < 301 + (y % 200); x++) {
        big[y * 800 + x] = true;
      }
    }
    String s = Rle.encode(big, 0, 0, 800, 1000, 1000, 800);
    assertThat(Rle.decode(s, 1000, 800)).isEqualTo(big);
  }

  @Test
  void aSegModelWithoutPrototypesOrAPoseModelWithTheWrongKeypointsIsRefusedSayingWhy() {
    ModelDescriptor segWithoutProtos = ModelDescriptor.fromJson("{\"output\": {\"name\": \"output0\", \"layout\": "
        + "\"segment\"}}");
    // the pose model's output read as a segment model: it has no prototypes
    assertThatThrownBy(() -> InferenceEngine.load(TestData.bytes(POSE), segWithoutProtos, TestData.cpu()))
        .isInstanceOf(ModelException.class).hasMessageContaining("no prototype output");
    // two class names against [17, 3] keypoints: 4 + 2 + 51 = 57 rows, the output has 56
    ModelDescriptor twoClasses = ModelDescriptor.fromJson("{\"names\": [\"person\", \"ghost\"]}");
    assertThatThrownBy(() -> InferenceEngine.load(TestData.bytes(POSE), twoClasses, TestData.cpu()))
        .isInstanceOf(ModelException.class).hasMessageContaining("56 rows")
        .hasMessageContaining("kpt_shape [17, 3]");
  }

  static double iou(BBox a, float[] b) {
    double iw = Math.min(a.x2(), b[2]) - Math.max(a.x1(), b[0]);
    double ih = Math.min(a.y2(), b[3]) - Math.max(a.y1(), b[1]);
    if (iw <= 0 || ih <= 0) {
      return 0;
    }
    double inter = iw * ih;
    return inter / ((a.x2() - a.x1()) * (a.y2() - a.y1()) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
  }
}
