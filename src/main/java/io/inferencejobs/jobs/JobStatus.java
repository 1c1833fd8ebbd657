package io.inferencejobs.jobs;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/** The one job state machine: {@code pending -> running -> completed | failed | cancelled}. */
public enum JobStatus {
  PENDING, RUNNING, COMPLETED, FAILED, CANCELLED;

  public Set<JobStatus> next() {
    return switch (this) {
      case PENDING -> EnumSet.of(RUNNING, FAILED, CANCELLED);
      case RUNNING -> EnumSet.of(COMPLETED, FAILED, CANCELLED);
      case COMPLETED, FAILED, CANCELLED -> EnumSet.noneOf(JobStatus.class);
    };
  }

  public boolean canMoveTo(JobStatus target) {
    return next().contains(target);
  }

  public boolean terminal() {
    return next().isEmpty();
  }

  /** The states from which {@code target} can be reached; used in guarded UPDATEs. */
  public static String[] sourcesOf(JobStatus target) {
    return EnumSet.allOf(JobStatus.class).stream().filter(s -> s.canMoveTo(target)).map(JobStatus::db)
        .toArray(String[]::new);
  }

  public String db() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static JobStatus of(String value) {
    return valueOf(value.toUpperCase(Locale.ROOT));
  }
}
