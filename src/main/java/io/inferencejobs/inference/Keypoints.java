package io.inferencejobs.inference;

import java.util.ArrayList;
import java.util.List;

/** Keypoint names: COCO's 17 for a 17-keypoint model, else kpt_0, kpt_1, ... */
public final class Keypoints {
  public static final List<String> COCO = List.of("nose", "left_eye", "right_eye", "left_ear", "right_ear",
      "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
      "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle");

  /** COCO's limbs, as pairs of 0-based indexes into {@link #COCO}. */
  public static final int[][] COCO_SKELETON = {{15, 13}, {13, 11}, {16, 14}, {14, 12}, {11, 12}, {5, 11}, {6, 12},
      {5, 6}, {5, 7}, {6, 8}, {7, 9}, {8, 10}, {1, 2}, {0, 1}, {0, 2}, {1, 3}, {2, 4}, {3, 5}, {4, 6}};

  private Keypoints() {
  }

  static List<String> names(int count) {
    if (count == COCO.size()) {
      return COCO;
    }
    List<String> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      out.add("kpt_" + i);
    }
    return out;
  }
}
