package io.inferencejobs.jobs;

import java.time.OffsetDateTime;

/** Which jobs a listing keeps; a null field keeps every job. {@code createdBefore} is exclusive. */
public record JobFilter(Long trainingJobId, String status, OffsetDateTime createdFrom, OffsetDateTime createdBefore) {
}
