package io.inferencejobs.api;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.shareddata.AsyncMap;

/**
 * A token bucket per tenant, shared by every API node of the cluster: {@code burst} requests at once, refilled at
 * {@code ratePerSecond}. The buckets live in the cluster's shared data (a Hazelcast map when clustered, a local map
 * otherwise), one entry per tenant, updated by compare-and-set; tenants come from the configuration, so the entries
 * are few and need no expiry. Clocks are wall clocks: nodes of a cluster are expected to run NTP.
 */
final class RateLimiter {
  static final String MAP = "inference-jobs.rate-buckets";
  /** Compare-and-set attempts before a contended request is refused (it is told to retry in a second). */
  private static final int ATTEMPTS = 16;

  private final double ratePerSecond;
  private final int burst;
  private final Future<AsyncMap<String, String>> buckets;

  RateLimiter(Vertx vertx, double ratePerSecond, int burst) {
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.buckets = ratePerSecond > 0 ? vertx.sharedData().getAsyncMap(MAP) : Future.succeededFuture();
  }

  /** The bucket after an attempt to take one token, and the whole seconds to wait when none was free. */
  record Taken(String state, int waitSeconds) {
  }

  /**
   * Takes a token from the bucket {@code state} ({@code tokens@epochMillis}; null: a full bucket) at {@code nowMillis}.
   * Pure, so that the arithmetic is tested on its own.
   */
  static Taken take(String state, long nowMillis, double ratePerSecond, int burst) {
    double tokens = burst;
    long at = nowMillis;
    if (state != null) {
      int sep = state.indexOf('@');
      tokens = Double.parseDouble(state.substring(0, sep));
      at = Long.parseLong(state.substring(sep + 1));
    }
    double refilled = Math.min(burst, tokens + Math.max(0, nowMillis - at) / 1000.0 * ratePerSecond);
    if (refilled >= 1) {
      return new Taken((refilled - 1) + "@" + nowMillis, 0);
    }
    return new Taken(null, (int) Math.max(1, Math.ceil((1 - refilled) / ratePerSecond)));
  }

  /** 0 when the request may go on; otherwise the whole seconds to wait before the next one would. */
  Future<Integer> acquire(String tenant) {
    if (ratePerSecond <= 0) {
      return Future.succeededFuture(0);
    }
    return buckets.compose(map -> attempt(map, tenant, ATTEMPTS));
  }

  private Future<Integer> attempt(AsyncMap<String, String> map, String tenant, int left) {
    if (left == 0) {
      return Future.succeededFuture(1);
    }
    return map.get(tenant).compose(state -> {
      Taken t = take(state, System.currentTimeMillis(), ratePerSecond, burst);
      if (t.state() == null) {
        return Future.succeededFuture(t.waitSeconds());
      }
      Future<Boolean> swapped = state == null
          ? map.putIfAbsent(tenant, t.state()).map(previous -> previous == null)
          : map.replaceIfPresent(tenant, state, t.state());
      return swapped.compose(ok -> ok ? Future.succeededFuture(0) : attempt(map, tenant, left - 1));
    });
  }
}
