package io.inferencejobs.jobs;

/**
 * What a listing of a job's results asks for: the page ({@code afterIndex} is the cursor, -1 for none), the order and
 * the filters. A filter that is null does not filter.
 *
 * @param sort     {@code index}, {@code name}, {@code detections} or {@code score} (the image's best score)
 * @param classId  only images with a prediction (or top class) of this class, scored {@code minScore} or more
 * @param minScore only images with a prediction (or top class) scored this much or more
 * @param failed   true: only images that failed; false: only images that did not
 */
public record ResultQuery(long jobId, int afterIndex, int skip, int limit, String sort, boolean descending,
                          Integer classId, Double minScore, Boolean failed) {

  public static ResultQuery firstPage(long jobId, int limit) {
    return new ResultQuery(jobId, -1, 0, limit, "index", false, null, null, null);
  }

  /** Image order with no filter: the keyset listing that stays cheap however large the job is. */
  public boolean plain() {
    return "index".equals(sort) && !descending && classId == null && minScore == null && failed == null;
  }

  /** Keyset cursors follow image order only. */
  public boolean cursorAllowed() {
    return "index".equals(sort) && !descending;
  }
}
