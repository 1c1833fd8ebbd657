package io.inferencejobs.support;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;

import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A named worker pool with a bounded backlog: when {@code maxQueued} tasks already wait or run, a new task fails at
 * once with {@link Overloaded} instead of joining an unbounded queue.
 */
public final class BoundedExecutor implements AutoCloseable {
  private final String name;
  private final WorkerExecutor executor;
  private final int capacity;
  private final AtomicInteger inFlight = new AtomicInteger();

  public BoundedExecutor(Vertx vertx, String name, int threads, int maxQueued) {
    this.name = name;
    this.executor = vertx.createSharedWorkerExecutor(name, threads, 10, TimeUnit.MINUTES);
    this.capacity = threads + maxQueued;
  }

  public <T> Future<T> submit(Callable<T> task) {
    if (inFlight.incrementAndGet() > capacity) {
      inFlight.decrementAndGet();
      return Future.failedFuture(new Overloaded(name));
    }
    // ordered=false: tasks of one pool run in parallel up to its thread count
    return executor.executeBlocking(task, false).andThen(ar -> inFlight.decrementAndGet());
  }

  public int inFlight() {
    return inFlight.get();
  }

  public String name() {
    return name;
  }

  @Override
  public void close() {
    executor.close();
  }

  /** The pool's backlog is full; the caller answers 503 with Retry-After or tries again later. */
  public static final class Overloaded extends RuntimeException {
    public Overloaded(String pool) {
      super("worker pool '" + pool + "' is full", null, false, false);
    }
  }
}
