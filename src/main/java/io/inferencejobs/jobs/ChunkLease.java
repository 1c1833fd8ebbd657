package io.inferencejobs.jobs;

/** A chunk of a job's images [firstIndex, endIndex) leased to one worker until its lease expires. */
public record ChunkLease(long jobId, int chunkIndex, int firstIndex, int endIndex, int attempts) {
}
