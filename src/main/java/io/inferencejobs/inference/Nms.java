package io.inferencejobs.inference;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Greedy non-maximum suppression, class-aware (boxes of different classes never suppress each other) or agnostic. */
final class Nms {

  /** Ultralytics caps the boxes fed into NMS; so do we, keeping the best. */
  static final int MAX_CANDIDATES = 30_000;

  /** Best score first; equal scores keep their output order, so the result never depends on the batch. */
  static final Comparator<Candidate> BEST_FIRST =
      Comparator.comparingDouble((Candidate c) -> -c.score()).thenComparingInt(Candidate::index);

  private Nms() {
  }

  /**
   * @param candidates   boxes, any order (the list is sorted in place)
   * @param iouThreshold a box overlapping a kept box of the same class (any class if agnostic) by more than this is dropped
   * @param maxKept      stop after this many boxes
   */
  static List<Candidate> run(List<Candidate> candidates, float iouThreshold, boolean agnostic, int maxKept) {
    candidates.sort(BEST_FIRST);
    int n = Math.min(candidates.size(), MAX_CANDIDATES);
    List<Candidate> kept = new ArrayList<>(Math.min(n, maxKept));
    boolean[] suppressed = new boolean[n];
    for (int i = 0; i < n && kept.size() < maxKept; i++) {
      if (suppressed[i]) {
        continue;
      }
      Candidate best = candidates.get(i);
      kept.add(best);
      for (int j = i + 1; j < n; j++) {
        if (!suppressed[j]) {
          Candidate other = candidates.get(j);
          if ((agnostic || other.classId() == best.classId()) && best.iou(other) > iouThreshold) {
            suppressed[j] = true;
          }
        }
      }
    }
    return kept;
  }
}
