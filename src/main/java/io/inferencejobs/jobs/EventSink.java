package io.inferencejobs.jobs;

import io.inferencejobs.bus.JobEvent;

import java.util.List;

/** Receives job events after the transaction that persisted them has committed. */
@FunctionalInterface
public interface EventSink {
  void publish(List<JobEvent> events);
}
