package io.inferencejobs.inference;

import java.util.Set;

/**
 * Postprocessing settings for one request. Their defaults are not the engine's business: a job's come from
 * {@code jobs.InferenceSettings}, the command line's too.
 *
 * @param confidenceThreshold keep detections scoring at least this (0..1)
 * @param iouThreshold        NMS suppresses a box overlapping a better one by more than this (0..1)
 * @param maxDetections       most detections per image (top-k for classification models)
 * @param classes             class ids to keep, {@code null} for all
 * @param agnosticNms         suppress overlapping boxes across classes, not only within one class
 */
public record DetectionParams(float confidenceThreshold, float iouThreshold, int maxDetections, Set<Integer> classes,
                              boolean agnosticNms) {

  public DetectionParams {
    if (!(confidenceThreshold >= 0f && confidenceThreshold <= 1f)) {
      throw new IllegalArgumentException("confidenceThreshold must be within 0..1, got " + confidenceThreshold);
    }
    if (!(iouThreshold >= 0f && iouThreshold <= 1f)) {
      throw new IllegalArgumentException("iouThreshold must be within 0..1, got " + iouThreshold);
    }
    if (maxDetections < 1) {
      throw new IllegalArgumentException("maxDetections must be at least 1, got " + maxDetections);
    }
    classes = classes == null ? null : Set.copyOf(classes);
  }

  public DetectionParams withConfidence(float threshold) {
    return new DetectionParams(threshold, iouThreshold, maxDetections, classes, agnosticNms);
  }

  public DetectionParams withAgnosticNms(boolean agnostic) {
    return new DetectionParams(confidenceThreshold, iouThreshold, maxDetections, classes, agnostic);
  }

  boolean accepts(int classId) {
    return classes == null || classes.contains(classId);
  }
}
