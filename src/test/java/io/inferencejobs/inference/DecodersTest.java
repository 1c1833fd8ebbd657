package io.inferencejobs.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.FloatBuffer;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DecodersTest {

  private static final DetectionParams P = TestData.defaultParams();

  /** [N, 4+nc, A] with nc = 3 and A = 4: column a is anchor a. */
  @Test
  void yolov8PicksTheBestClassPerAnchorAndConvertsCentreBoxes() {
    int nc = 3;
    int anchors = 4;
    float[] t = new float[2 * (4 + nc) * anchors];
    int img = (4 + nc) * anchors; // second image of the batch
    setV8(t, img, anchors, 0, new float[] {100, 50, 20, 10}, new float[] {0.1f, 0.9f, 0.3f});
    setV8(t, img, anchors, 1, new float[] {300, 300, 40, 40}, new float[] {0.2f, 0.1f, 0.05f}); // below 0.25
    setV8(t, img, anchors, 2, new float[] {10, 10, 4, 4}, new float[] {0.5f, 0.0f, 0.6f});
    long[] shape = {2, 4 + nc, anchors};

    List<Candidate> out = Decoders.decode(OutputLayout.YOLOV8, FloatBuffer.wrap(t), 1, shape, P);

    assertThat(out).hasSize(2);
    assertThat(out.get(0).classId()).isEqualTo(1);
    assertThat(out.get(0).score()).isEqualTo(0.9f);
    assertThat(out.get(0).x1()).isEqualTo(90f);
    assertThat(out.get(0).y1()).isEqualTo(45f);
    assertThat(out.get(0).x2()).isEqualTo(110f);
    assertThat(out.get(0).y2()).isEqualTo(55f);
    assertThat(out.get(1).classId()).isEqualTo(2);
    // the first image is all zeros: nothing
    assertThat(Decoders.decode(OutputLayout.YOLOV8, FloatBuffer.wrap(t), 0, shape, P)).isEmpty();
  }

  @Test
  void yolov8ClassFilterKeepsOnlyRequestedClasses() {
    float[] t = new float[(4 + 2) * 2];
    setV8(t, 0, 2, 0, new float[] {10, 10, 4, 4}, new float[] {0.8f, 0.1f});
    setV8(t, 0, 2, 1, new float[] {50, 50, 4, 4}, new float[] {0.1f, 0.7f});
    DetectionParams onlyOne = new DetectionParams(0.25f, 0.45f, 100, Set.of(1), false);

    List<Candidate> out = Decoders.decode(OutputLayout.YOLOV8, FloatBuffer.wrap(t), 0, new long[] {1, 6, 2}, onlyOne);

    assertThat(out).extracting(Candidate::classId).containsExactly(1);
  }

  @Test
  void yolov5MultipliesObjectnessByClassScore() {
    int cols = 5 + 2;
    float[] t = new float[3 * cols];
    System.arraycopy(new float[] {100, 100, 20, 20, 0.9f, 0.2f, 0.8f}, 0, t, 0, cols); // 0.72 class 1
    System.arraycopy(new float[] {200, 200, 20, 20, 0.2f, 1.0f, 0.0f}, 0, t, cols, cols); // objectness too low
    System.arraycopy(new float[] {300, 300, 20, 20, 0.5f, 0.4f, 0.1f}, 0, t, 2 * cols, cols); // 0.2 < 0.25

    List<Candidate> out = Decoders.decode(OutputLayout.YOLOV5, FloatBuffer.wrap(t), 0, new long[] {1, 3, cols}, P);

    assertThat(out).hasSize(1);
    assertThat(out.get(0).classId()).isEqualTo(1);
    assertThat(out.get(0).score()).isCloseTo(0.72f, within(1e-6f));
    assertThat(out.get(0).x1()).isEqualTo(90f);
    assertThat(out.get(0).y2()).isEqualTo(110f);
  }

  @Test
  void end2endTakesBoxesAsTheyAreWithoutNms() {
    float[] t = {
        10, 10, 50, 50, 0.9f, 3,
        11, 11, 51, 51, 0.8f, 3, // overlaps the first: kept, no NMS in this layout
        0, 0, 5, 5, 0.1f, 2,
        0, 0, 0, 0, 0, 0};
    List<Candidate> out = Decoders.decode(OutputLayout.END2END, FloatBuffer.wrap(t), 0, new long[] {1, 4, 6}, P);

    assertThat(out).hasSize(2);
    assertThat(out).extracting(Candidate::classId).containsExactly(3, 3);
    assertThat(out.get(1).x1()).isEqualTo(11f);
    DetectionParams one = new DetectionParams(0.25f, 0.45f, 1, null, false);
    assertThat(Decoders.decode(OutputLayout.END2END, FloatBuffer.wrap(t), 0, new long[] {1, 4, 6}, one)).hasSize(1);
  }

  @Test
  void classificationKeepsProbabilitiesAndTopK() {
    float[] t = {0.05f, 0.6f, 0.3f, 0.05f};
    DetectionParams top2 = new DetectionParams(0.0f, 0.45f, 2, null, false);

    List<Candidate> out = Decoders.decode(OutputLayout.CLASSIFICATION, FloatBuffer.wrap(t), 0, new long[] {1, 4}, top2);

    assertThat(out).extracting(Candidate::classId).containsExactly(1, 2);
    assertThat(out.get(0).score()).isEqualTo(0.6f);
  }

  @Test
  void classificationAppliesSoftmaxToLogits() {
    float[] t = {2f, 1f, 0.1f, -3f};
    List<Candidate> out = Decoders.decode(OutputLayout.CLASSIFICATION, FloatBuffer.wrap(t), 0, new long[] {1, 4},
        new DetectionParams(0f, 0.45f, 3, null, false));

    double sum = Math.exp(2) + Math.exp(1) + Math.exp(0.1) + Math.exp(-3);
    assertThat(out).extracting(Candidate::classId).containsExactly(0, 1, 2);
    assertThat(out.get(0).score()).isCloseTo((float) (Math.exp(2) / sum), within(1e-5f));
    assertThat(out.get(1).score()).isCloseTo((float) (Math.exp(1) / sum), within(1e-5f));
  }

  private static void setV8(float[] t, int offset, int anchors, int a, float[] box, float[] scores) {
    for (int i = 0; i < 4; i++) {
      t[offset + i * anchors + a] = box[i];
    }
    for (int c = 0; c < scores.length; c++) {
      t[offset + (4 + c) * anchors + a] = scores[c];
    }
  }
}
