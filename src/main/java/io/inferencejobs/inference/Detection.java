package io.inferencejobs.inference;

/** One detected object (or, for a classification model, one of the top-k classes with the whole image as box). */
public record Detection(int classId, String className, float confidence, BBox bbox) {
}
