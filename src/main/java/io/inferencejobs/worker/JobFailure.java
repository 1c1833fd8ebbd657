package io.inferencejobs.worker;

import io.inferencejobs.inference.ModelException;
import io.inferencejobs.storage.S3Storage;

/**
 * A fault no retry can mend: the checkpoint does not exist, is too large, is not a model the engine reads. The job
 * fails, once, with this reason. Every other fault of a chunk (S3 or PostgreSQL unreachable, a full pool or disk, a
 * timeout) fails only the chunk, which is tried again later, on any worker, a bounded number of times. Faults are told
 * apart by their types, never by their messages.
 */
final class JobFailure extends RuntimeException {
  JobFailure(String reason) {
    super(reason, null, false, false);
  }

  /** Whether {@code failure} ends the job: a JobFailure or a model the engine cannot use. */
  static boolean endsTheJob(Throwable failure) {
    Throwable t = failure;
    for (int depth = 0; t != null && depth < 8; depth++, t = t.getCause()) {
      if (t instanceof JobFailure || t instanceof ModelException) {
        return true;
      }
    }
    return false;
  }

  /** A short description of a chunk's failure for logs and for the job's error message. */
  static String describe(Throwable failure) {
    if (failure instanceof S3Storage.TooLarge || failure instanceof JobFailure) {
      return failure.getMessage();
    }
    String msg = failure.getMessage();
    return failure.getClass().getSimpleName() + (msg == null || msg.isBlank() ? "" : ": " + msg);
  }
}
