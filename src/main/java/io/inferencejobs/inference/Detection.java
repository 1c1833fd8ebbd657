package io.inferencejobs.inference;

import java.util.List;

/**
 * One detected object (or, for a classification model, one of the top-k classes with the whole image as box), with
 * its instance mask for a segmentation model and its keypoints for a pose model (null otherwise).
 */
public record Detection(int classId, String className, float confidence, BBox bbox, Mask mask,
                        List<Keypoint> keypoints) {

  public Detection {
    keypoints = keypoints == null ? null : List.copyOf(keypoints);
  }

  public Detection(int classId, String className, float confidence, BBox bbox) {
    this(classId, className, confidence, bbox, null, null);
  }
}
