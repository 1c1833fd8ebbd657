package io.inferencejobs.inference;

import java.util.ArrayList;
import java.util.List;

/** Keypoint names: COCO's 17 for a 17-keypoint model, else kpt_0, kpt_1, ... */
final class Keypoints {
  static final List<String> COCO = List.of("nose", "left_eye", "right_eye", "left_ear", "right_ear",
      "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
      "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle");

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
