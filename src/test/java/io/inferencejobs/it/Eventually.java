package io.inferencejobs.it;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

/**
 * Polls a condition that no event announces (a gauge, a directory, rows written by a periodic task) with a bounded
 * deadline: a Vert.x timer has the probe run on a thread of its own (a probe may block, on a socket or on
 * {@link Api#await}, which Vert.x threads may not), re-arms itself after each look, and completes a promise the test
 * waits on once the condition holds. Past the deadline the test fails with the last value seen.
 */
final class Eventually {
  private static final long PERIOD_MS = 100;

  private Eventually() {
  }

  /** Runs {@code probe} until {@code done} accepts its value, for at most {@code limit}; returns that value. */
  static <T> T until(Vertx vertx, String what, Duration limit, Callable<T> probe, Predicate<T> done) {
    Promise<T> result = Promise.promise();
    AtomicReference<Object> last = new AtomicReference<>("(nothing yet)");
    long deadline = System.nanoTime() + limit.toNanos();
    ExecutorService prober = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "eventually-probe");
      t.setDaemon(true);
      return t;
    });
    Context context = vertx.getOrCreateContext();
    Handler<Long> look = new Handler<>() {
      @Override
      public void handle(Long timerId) {
        Future.fromCompletionStage(CompletableFuture.supplyAsync(() -> {
          try {
            return probe.call();
          } catch (Exception e) {
            throw new CompletionException(e);
          }
        }, prober), context).onComplete(ar -> {
          if (ar.succeeded()) {
            last.set(ar.result());
            if (done.test(ar.result())) {
              result.tryComplete(ar.result());
              return;
            }
          } else {
            last.set(ar.cause());
          }
          if (System.nanoTime() - deadline > 0) {
            result.tryFail(new AssertionError(what + ": not so within " + limit.toSeconds() + " s; last seen: "
                + last.get()));
          } else {
            vertx.setTimer(PERIOD_MS, this);
          }
        });
      }
    };
    context.runOnContext(v -> look.handle(-1L));
    try {
      return result.future().await(limit.toMillis() + 30_000, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError(what + ": the probe itself never answered", e);
    } finally {
      prober.shutdownNow();
    }
  }
}
