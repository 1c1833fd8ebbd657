package io.inferencejobs.jobs;

/** One input image of a job: where it is and the name its owner knows it by. */
public record ImageRef(int index, String s3Uri, String name) {
}
