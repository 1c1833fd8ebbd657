package io.inferencejobs.api;

import io.inferencejobs.bus.Addresses;
import io.inferencejobs.bus.JobEvent;
import io.inferencejobs.jobs.Job;
import io.inferencejobs.jobs.JobRepository;
import io.inferencejobs.jobs.TenantFilter;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Server-Sent Events. One event-bus consumer per node fans every persisted job event out to this node's open streams.
 * A stream first catches up from PostgreSQL (snapshot, or the events after Last-Event-ID), then goes live; events
 * that arrive while it catches up are held and de-duplicated by id, so a client sees each event once, in order. A
 * stream shows only jobs its caller may see, and each tenant holds at most {@code maxStreamsPerTenant} streams on the
 * node. A stream is registered (and counted) the moment it is asked for, before anything asynchronous, and released
 * by the exchange's end handler, so a client that leaves early leaks nothing.
 */
public final class EventStreams {
  private static final Logger LOG = LoggerFactory.getLogger(EventStreams.class);
  static final int RETRY_MS = 2000;
  /** What a tenant at its stream limit is told to wait. */
  static final int RETRY_AFTER_FULL = 5;
  private static final int REPLAY_PAGE = 1000;
  /** About the most bytes of event data one page of a job stream's replay holds. */
  public static final int REPLAY_PAGE_BYTES = 1 << 20;

  private final Vertx vertx;
  private final JobRepository jobs;
  private final long heartbeatMs;
  private final Map<Long, Set<JobConnection>> byJob = new HashMap<>();
  /** The keep-alive comment, one buffer for every stream. */
  private static final Buffer KEEP_ALIVE = Buffer.buffer(": keep-alive\n\n");
  /** The event being fanned out, while it is (see {@link #frames}). */
  private Frames dispatching;
  private final Set<AllConnection> allJobs = new HashSet<>();
  /** Open streams per tenant over every API verticle instance of the node (shared, concurrent). */
  private final Map<String, Integer> perTenant;
  private final int maxStreamsPerTenant;
  private MessageConsumer<JsonObject> consumer;
  private long heartbeatTimer = -1;
  private int registered;

  public EventStreams(Vertx vertx, JobRepository jobs, int heartbeatSeconds, int maxStreamsPerTenant,
                      Map<String, Integer> perTenant) {
    this.vertx = vertx;
    this.perTenant = perTenant;
    this.jobs = jobs;
    this.heartbeatMs = heartbeatSeconds * 1000L;
    this.maxStreamsPerTenant = maxStreamsPerTenant;
  }

  /** Registers the node's one bus consumer and the heartbeat timer; call on the API verticle's context. */
  public Future<Void> start() {
    consumer = vertx.eventBus().consumer(Addresses.JOBS_EVENTS, msg -> dispatch(JobEvent.fromJson(msg.body())));
    heartbeatTimer = vertx.setPeriodic(Math.max(250, heartbeatMs / 3), id -> heartbeat());
    return consumer.completion();
  }

  public Future<Void> stop() {
    if (heartbeatTimer >= 0) {
      vertx.cancelTimer(heartbeatTimer);
    }
    return consumer == null ? Future.succeededFuture() : consumer.unregister();
  }

  /** Streams on this node, from the request until the exchange ends (for metrics and tests). */
  public int openStreams() {
    return registered;
  }

  private void dispatch(JobEvent event) {
    if (JobEvent.DELETED.equals(event.type())) {
      deleted(event);
      return;
    }
    dispatching = new Frames(event);
    try {
      Set<JobConnection> conns = byJob.get(event.jobId());
      if (conns != null) {
        for (JobConnection c : List.copyOf(conns)) {
          c.offer(event);
        }
      }
      if (!JobEvent.PROGRESS.equals(event.type()) && !JobEvent.IMAGES.equals(event.type())) {
        for (AllConnection c : List.copyOf(allJobs)) {
          c.offer(event);
        }
      }
    } finally {
      dispatching = null;
    }
  }

  /** The frames of the event being fanned out (encoded once for all its streams), else of a replayed one. */
  private Frames frames(JobEvent e) {
    Frames f = dispatching;
    return f != null && f.event == e ? f : new Frames(e);
  }

  /**
   * An event's two SSE frames, each encoded at most once however many streams get it: the job stream's (id = the
   * job's sequence) and the all-jobs stream's (id = the global id, with job_id). The same buffer is written to
   * every stream.
   */
  private static final class Frames {
    final JobEvent event;
    private Buffer job;
    private Buffer all;

    Frames(JobEvent event) {
      this.event = event;
    }

    Buffer job() {
      if (job == null) {
        job = frame(event.seq(), event.type(), JobViews.event(event));
      }
      return job;
    }

    Buffer all() {
      if (all == null) {
        all = frame(event.id(), event.type(), JobViews.event(event).copy().put("job_id", event.jobId()));
      }
      return all;
    }

    static Buffer frame(long id, String type, JsonObject data) {
      return Buffer.buffer("id: " + id + "\nevent: " + type + "\ndata: " + data.encode() + "\n\n");
    }
  }

  /**
   * A deleted job's streams get a {@code deleted} event (without an id: it is stored nowhere) and end; the all-jobs
   * streams that may see it are told, so that lists drop it.
   */
  private void deleted(JobEvent event) {
    Buffer frame = Buffer.buffer("event: deleted\ndata: " + new JsonObject().put("job_id", event.jobId()).encode()
        + "\n\n");
    Set<JobConnection> conns = byJob.get(event.jobId());
    if (conns != null) {
      for (JobConnection c : List.copyOf(conns)) {
        c.write(frame);
        c.end();
      }
    }
    for (AllConnection c : List.copyOf(allJobs)) {
      if ((c.trainingJobId == null || c.trainingJobId == event.trainingJobId()) && c.visible.sees(event.tenant())) {
        c.write(frame);
      }
    }
  }

  private void heartbeat() {
    long now = System.currentTimeMillis();
    for (Set<JobConnection> set : byJob.values()) {
      for (JobConnection c : set) {
        c.keepAlive(now);
      }
    }
    for (AllConnection c : allJobs) {
      c.keepAlive(now);
    }
  }

  // ------------------------------------------------------------------ per-job stream

  void jobStream(RoutingContext ctx) {
    long jobId = Params.pathLong(ctx, "inference_job_id");
    Long lastSeq = lastEventId(ctx);
    TenantFilter visible = Caller.filter(ctx);
    JobConnection conn = new JobConnection(ctx, jobId);
    if (!conn.register()) {
      return;
    }
    jobs.get(jobId).onSuccess(found -> {
      if (conn.closed) {
        return; // the client left while the job was looked up
      }
      if (found.isEmpty() || !visible.sees(found.get().tenant())) {
        ctx.fail(ApiError.notFound("inference_job_id", "inference job " + jobId + " does not exist"));
        return;
      }
      byJob.computeIfAbsent(jobId, k -> new HashSet<>()).add(conn);
      conn.open();
      conn.catchUp(found.get(), lastSeq);
    }).onFailure(err -> {
      if (!conn.closed) {
        ctx.fail(err);
      }
    });
  }

  // ------------------------------------------------------------------ all-jobs stream

  void allJobsStream(RoutingContext ctx) {
    Long trainingJobId = Params.queryLong(ctx, "training_job_id");
    Long lastId = lastEventId(ctx);
    AllConnection conn = new AllConnection(ctx, trainingJobId, Caller.filter(ctx));
    if (!conn.register()) {
      return;
    }
    allJobs.add(conn);
    conn.open();
    conn.catchUp(lastId);
  }

  private static Long lastEventId(RoutingContext ctx) {
    String raw = ctx.request().getHeader("Last-Event-ID");
    if (raw == null || raw.isBlank()) {
      raw = ctx.request().getParam("last_event_id");
    }
    if (raw == null || raw.isBlank()) {
      return null;
    }
    try {
      long v = Long.parseLong(raw.trim());
      return v < 0 ? null : v;
    } catch (NumberFormatException e) {
      return null; // an id we never issued: start afresh with a snapshot
    }
  }

  /** The parts every stream shares: registration, headers, framing, keep-alive, close. */
  private abstract class Connection {
    final RoutingContext ctx;
    final HttpServerResponse response;
    final String tenant;
    long lastWrite = System.currentTimeMillis();
    boolean live;
    boolean closed;
    final List<JobEvent> held = new ArrayList<>();

    Connection(RoutingContext ctx) {
      this.ctx = ctx;
      this.response = ctx.response();
      String t = Caller.tenant(ctx);
      this.tenant = t == null ? "" : t;
    }

    /**
     * Counts the stream against its tenant and arranges its release when the exchange ends (however it ends). False,
     * with the request answered 429, when the tenant already holds its most streams on this node; false, with nothing
     * to answer, when the client has already gone.
     */
    boolean register() {
      if (response.closed() || response.ended()) {
        // the client left while the request was routed here (body, validation): the exchange's end handlers have
        // run already and one added now never would, so such a stream is neither counted nor opened
        closed = true;
        return false;
      }
      // checked and counted in one step: other instances of the node count into the same map
      int[] held = {0};
      boolean[] full = {false};
      perTenant.compute(tenant, (k, n) -> {
        held[0] = n == null ? 0 : n;
        full[0] = maxStreamsPerTenant > 0 && held[0] >= maxStreamsPerTenant;
        return full[0] ? n : held[0] + 1;
      });
      if (full[0]) {
        ctx.fail(ApiError.tooManyRequests(null, (tenant.isEmpty() ? "this service" : "tenant '" + tenant + "'")
            + " already has " + held[0] + " open event streams on this node, the most it may have",
            RETRY_AFTER_FULL));
        return false;
      }
      registered++;
      ctx.addEndHandler(ar -> {
        closed = true;
        registered--;
        perTenant.computeIfPresent(tenant, (k, n) -> n <= 1 ? null : n - 1);
        unlink();
      });
      return true;
    }

    /** Removes the stream from the node's fan-out. */
    abstract void unlink();

    void open() {
      response.setStatusCode(200)
          .putHeader("Content-Type", "text/event-stream; charset=utf-8")
          .putHeader("Cache-Control", "no-cache")
          .putHeader("X-Accel-Buffering", "no")
          .putHeader("Connection", "keep-alive")
          .setChunked(true);
      write("retry: " + RETRY_MS + "\n\n");
    }

    void write(String frame) {
      write(Buffer.buffer(frame));
    }

    void write(Buffer frame) {
      if (closed) {
        return;
      }
      lastWrite = System.currentTimeMillis();
      response.write(frame);
      if (response.writeQueueFull()) {
        // a client that cannot keep up is cut off; it reconnects with Last-Event-ID and catches up from the store
        LOG.info("closing a slow SSE client");
        closed = true;
        response.reset();
      }
    }

    void send(long id, String type, JsonObject data) {
      write(Frames.frame(id, type, data));
    }

    void keepAlive(long now) {
      if (!closed && now - lastWrite >= heartbeatMs) {
        write(KEEP_ALIVE);
      }
    }

    void end() {
      if (!closed) {
        closed = true;
        response.end();
      }
    }

    void offer(JobEvent e) {
      if (closed) {
        return;
      }
      if (!live) {
        held.add(e);
      } else {
        deliver(e);
      }
    }

    abstract void deliver(JobEvent e);
  }

  private final class JobConnection extends Connection {
    final long jobId;
    long lastSeq;
    boolean fetching;

    JobConnection(RoutingContext ctx, long jobId) {
      super(ctx);
      this.jobId = jobId;
    }

    @Override
    void unlink() {
      Set<JobConnection> set = byJob.get(jobId);
      if (set != null) {
        set.remove(this);
        if (set.isEmpty()) {
          byJob.remove(jobId);
        }
      }
    }

    void catchUp(Job job, Long fromSeq) {
      if (fromSeq == null || fromSeq > job.eventSeq()) {
        snapshot(job);
        return;
      }
      lastSeq = fromSeq;
      replay();
    }

    private void snapshot(Job job) {
      boolean finished = job.status().terminal();
      // a finished job's last event is its terminal event: the snapshot takes the id just before it
      lastSeq = finished ? job.eventSeq() - 1 : job.eventSeq();
      send(lastSeq, "snapshot", JobViews.job(job));
      replay();
    }

    /** Sends stored events after lastSeq, then held ones, then goes live. */
    private void replay() {
      fetching = true;
      jobs.eventsOfJob(jobId, (int) lastSeq, REPLAY_PAGE, REPLAY_PAGE_BYTES).onSuccess(page -> {
        fetching = false;
        List<JobEvent> events = page.events();
        for (int i = 0; i < events.size() && !closed; i++) {
          JobEvent e = events.get(i);
          if (JobEvent.terminal(e.type()) && (i < events.size() - 1 || page.cut())) {
            // the job ended and was run again (retry): that end is not its end, and sending it would end the stream
            lastSeq = e.seq();
            continue;
          }
          if (JobEvent.terminal(e.type()) && page.full()) {
            break; // the last of a full page: whether later events supersede it, the next page (from it) tells
          }
          deliverInOrder(e);
        }
        if (closed) {
          return;
        }
        if (page.cut() || page.full()) {
          replay();
          return;
        }
        live = true;
        List<JobEvent> pending = new ArrayList<>(held);
        held.clear();
        pending.sort((a, b) -> Integer.compare(a.seq(), b.seq()));
        pending.forEach(this::deliver);
      }).onFailure(err -> {
        LOG.warn("SSE replay of job {} failed: {}", jobId, err.toString());
        closed = true;
        response.reset();
      });
    }

    private void deliverInOrder(JobEvent e) {
      if (closed || e.seq() <= lastSeq) {
        return;
      }
      lastSeq = e.seq();
      write(frames(e).job());
      if (JobEvent.terminal(e.type())) {
        end();
      }
    }

    @Override
    void deliver(JobEvent e) {
      if (e.seq() <= lastSeq) {
        return; // already sent
      }
      if (e.seq() == lastSeq + 1 && !fetching) {
        deliverInOrder(e);
        return;
      }
      // a gap (bus delivery raced the store): fetch what is missing from PostgreSQL, in order
      if (!fetching) {
        live = false;
        held.add(e);
        replay();
      } else {
        held.add(e);
      }
    }
  }

  private final class AllConnection extends Connection {
    final Long trainingJobId;
    final TenantFilter visible;
    long lastId;

    AllConnection(RoutingContext ctx, Long trainingJobId, TenantFilter visible) {
      super(ctx);
      this.trainingJobId = trainingJobId;
      this.visible = visible;
    }

    @Override
    void unlink() {
      allJobs.remove(this);
    }

    void catchUp(Long fromId) {
      Future<Long> start = fromId != null ? Future.succeededFuture(fromId)
          : jobs.lastEventId().compose(last -> jobs.list(visible,
              new io.inferencejobs.jobs.JobFilter(trainingJobId, null, null, null), null, 0, 50).map(page -> {
            send(last, "snapshot", new JsonObject().put("jobs",
                new JsonArray(page.items().stream().map(JobViews::job).toList())));
            return last;
          }));
      start.compose(from -> {
        lastId = from;
        return replay();
      }).onFailure(err -> {
        LOG.warn("SSE replay of all jobs failed: {}", err.toString());
        closed = true;
        response.reset();
      });
    }

    private Future<Void> replay() {
      return jobs.statusEventsAfter(visible, trainingJobId, lastId, REPLAY_PAGE).compose(events -> {
        events.forEach(this::deliver);
        if (events.size() == REPLAY_PAGE && !closed) {
          return replay();
        }
        live = true;
        List<JobEvent> pending = new ArrayList<>(held);
        held.clear();
        pending.sort((a, b) -> Long.compare(a.id(), b.id()));
        pending.forEach(this::deliver);
        return Future.succeededFuture();
      });
    }

    @Override
    void deliver(JobEvent e) {
      if (closed || e.id() <= lastId) {
        return;
      }
      if ((trainingJobId != null && e.trainingJobId() != trainingJobId) || !visible.sees(e.tenant())) {
        return;
      }
      lastId = e.id();
      write(frames(e).all());
    }
  }
}
