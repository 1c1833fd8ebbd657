package io.inferencejobs.inference;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class NmsTest {

  private static Candidate box(float x1, float score, int cls, int index) {
    return new Candidate(x1, 0, x1 + 100, 100, score, cls, index);
  }

  @Test
  void classAwareKeepsOverlappingBoxesOfDifferentClasses() {
    List<Candidate> in = new ArrayList<>(List.of(box(0, 0.9f, 0, 0), box(5, 0.8f, 1, 1), box(5, 0.7f, 0, 2)));

    List<Candidate> kept = Nms.run(in, 0.45f, false, 100);

    assertThat(kept).extracting(Candidate::index).containsExactly(0, 1);
  }

  @Test
  void agnosticSuppressesAcrossClasses() {
    List<Candidate> in = new ArrayList<>(List.of(box(0, 0.9f, 0, 0), box(5, 0.8f, 1, 1), box(300, 0.7f, 0, 2)));

    List<Candidate> kept = Nms.run(in, 0.45f, true, 100);

    assertThat(kept).extracting(Candidate::index).containsExactly(0, 2);
  }

  @Test
  void overlapAtOrBelowTheThresholdIsKept() {
    // IoU of [0,100] and [50,150] (same height) is 50/150 = 0.333
    List<Candidate> in = new ArrayList<>(List.of(box(0, 0.9f, 0, 0), box(50, 0.8f, 0, 1)));

    assertThat(Nms.run(new ArrayList<>(in), 0.4f, false, 100)).hasSize(2);
    assertThat(Nms.run(new ArrayList<>(in), 0.3f, false, 100)).hasSize(1);
  }

  @Test
  void tiesKeepTheEarlierOutputIndex() {
    List<Candidate> in = new ArrayList<>(List.of(box(2, 0.5f, 0, 7), box(0, 0.5f, 0, 3), box(1, 0.5f, 0, 5)));

    List<Candidate> kept = Nms.run(in, 0.45f, false, 100);

    assertThat(kept).extracting(Candidate::index).containsExactly(3);
  }

  @Test
  void emptyInputGivesEmptyOutput() {
    assertThat(Nms.run(new ArrayList<>(), 0.45f, false, 100)).isEmpty();
  }

  @Test
  void stopsAtMaxKept() {
    List<Candidate> in = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      in.add(box(i * 200, 0.9f - i * 0.01f, 0, i));
    }
    assertThat(Nms.run(in, 0.45f, false, 3)).extracting(Candidate::index).containsExactly(0, 1, 2);
  }
}
