package io.inferencejobs.inference;

/** One keypoint of a pose, in original-image pixels (after EXIF rotation), with its visibility score (0..1). */
public record Keypoint(String name, float x, float y, float score) {
}
