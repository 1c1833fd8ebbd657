package io.inferencejobs.jobs;

/**
 * A chunk of a job's images [firstIndex, endIndex) leased to one worker until its lease expires; {@code attempts}
 * counts its leases so far (this one included), {@code lastError} is why the previous attempt failed, if it did.
 */
public record ChunkLease(long jobId, int chunkIndex, int firstIndex, int endIndex, int attempts, String lastError) {
}
