package io.inferencejobs.jobs;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.ToIntFunction;

/**
 * Runs the requests of one key one group at a time: a request that finds none in flight for its key runs at once,
 * alone; those that arrive while one is in flight wait, and then run together as the next group (up to
 * {@code maxWeight}, and at least one). So a lone request waits for nothing, and under load the number of groups,
 * not of requests, is what each key pays for. Each caller gets its own answer on its own context.
 *
 * @param <K> what requests queue by
 * @param <R> a request
 * @param <T> a request's answer
 */
final class GroupQueue<K, R, T> {

  private final BiFunction<K, List<R>, Future<List<T>>> runGroup;
  private final ToIntFunction<R> weight;
  private final int maxWeight;
  /** Keys with a group in flight, to the requests that wait for the next one. Guarded by itself. */
  private final Map<K, ArrayDeque<Waiting<R, T>>> waiting = new HashMap<>();

  private record Waiting<R, T>(R request, Promise<T> answer, Context context) {
  }

  /**
   * @param runGroup runs a key's group and answers each request, in the group's order; a failure fails every request
   *                 of it
   */
  GroupQueue(BiFunction<K, List<R>, Future<List<T>>> runGroup, ToIntFunction<R> weight, int maxWeight) {
    this.runGroup = runGroup;
    this.weight = weight;
    this.maxWeight = maxWeight;
  }

  Future<T> submit(K key, R request) {
    Waiting<R, T> w = new Waiting<>(request, Promise.promise(), Vertx.currentContext());
    boolean runNow;
    synchronized (waiting) {
      ArrayDeque<Waiting<R, T>> queue = waiting.get(key);
      runNow = queue == null;
      if (runNow) {
        waiting.put(key, new ArrayDeque<>());
      } else {
        queue.add(w);
      }
    }
    if (runNow) {
      run(key, List.of(w));
    }
    return w.answer().future();
  }

  /** How many keys have a group in flight now. */
  int inFlight() {
    synchronized (waiting) {
      return waiting.size();
    }
  }

  private void run(K key, List<Waiting<R, T>> group) {
    Future<List<T>> ran;
    try {
      ran = runGroup.apply(key, group.stream().map(Waiting::request).toList());
    } catch (RuntimeException e) {
      ran = Future.failedFuture(e);
    }
    ran.onComplete(ar -> {
      List<Waiting<R, T>> next = nextGroup(key);
      if (next != null) {
        run(key, next);
      }
      for (int i = 0; i < group.size(); i++) {
        Waiting<R, T> w = group.get(i);
        if (ar.succeeded()) {
          T answer = ar.result().get(i);
          answer(w, () -> w.answer().complete(answer));
        } else {
          answer(w, () -> w.answer().fail(ar.cause()));
        }
      }
    });
  }

  /** The requests waiting for {@code key}, up to the weight limit; null (and the key released) when none wait. */
  private List<Waiting<R, T>> nextGroup(K key) {
    synchronized (waiting) {
      ArrayDeque<Waiting<R, T>> queue = waiting.get(key);
      if (queue.isEmpty()) {
        waiting.remove(key);
        return null;
      }
      List<Waiting<R, T>> next = new ArrayList<>();
      int total = 0;
      while (!queue.isEmpty() && (next.isEmpty() || total + weight.applyAsInt(queue.peek().request()) <= maxWeight)) {
        Waiting<R, T> w = queue.poll();
        total += weight.applyAsInt(w.request());
        next.add(w);
      }
      return next;
    }
  }

  private static void answer(Waiting<?, ?> w, Runnable complete) {
    if (w.context() != null) {
      w.context().runOnContext(v -> complete.run());
    } else {
      complete.run();
    }
  }
}
