package io.inferencejobs.inference;

import java.util.List;

/**
 * One detected object (or, for a classification model, one of the top-k classes with the whole image as box), with
 * its instance mask for a segmentation model, its keypoints for a pose model and its oriented box for an OBB model
 * (each null otherwise; {@code bbox} is then the oriented box's bounds).
 */
public record Detection(int classId, String className, float confidence, BBox bbox, Mask mask,
                        List<Keypoint> keypoints, Obb obb) {

  public Detection {
    keypoints = keypoints == null ? null : List.copyOf(keypoints);
  }

  public Detection(int classId, String className, float confidence, BBox bbox) {
    this(classId, className, confidence, bbox, null, null, null);
  }

  public Detection(int classId, String className, float confidence, BBox bbox, Mask mask, List<Keypoint> keypoints) {
    this(classId, className, confidence, bbox, mask, keypoints, null);
  }
}
