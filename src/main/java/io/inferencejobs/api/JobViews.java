package io.inferencejobs.api;

import io.inferencejobs.bus.JobEvent;
import io.inferencejobs.jobs.Job;
import io.vertx.core.json.JsonObject;

/**
 * How jobs and their events look over HTTP: the stored domain data, plus the links a client follows. Events are
 * stored as domain data, so a change here never rewrites history.
 */
final class JobViews {
  static final String API = "/api/v1";
  static final String JOBS = API + "/test_inference/inference/jobs/";

  private JobViews() {
  }

  static String self(long jobId) {
    return JOBS + jobId;
  }

  static JsonObject links(long jobId) {
    return new JsonObject()
        .put("self", JOBS + jobId)
        .put("events", JOBS + jobId + "/events")
        .put("results", JOBS + jobId + "/results")
        .put("cancel", JOBS + jobId + "/cancel");
  }

  static JsonObject job(Job job) {
    return job.toJson().put("links", links(job.id()));
  }

  /** An event's payload as streams send it: events that carry the job (status and terminal ones) get its links. */
  static JsonObject event(JobEvent e) {
    if (JobEvent.STATUS.equals(e.type()) || JobEvent.terminal(e.type())) {
      return e.data().copy().put("links", links(e.jobId()));
    }
    return e.data();
  }
}
