package io.inferencejobs.api;

import java.util.HashMap;
import java.util.Map;

/**
 * A token bucket per key, on this node: {@code burst} requests at once, refilled at {@code ratePerSecond}. Used on the
 * API verticle's event loop only.
 */
final class RateLimiter {
  private final double ratePerSecond;
  private final int burst;
  private final Map<String, double[]> buckets = new HashMap<>();

  RateLimiter(double ratePerSecond, int burst) {
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
  }

  /** 0 when the request may go on; otherwise the whole seconds to wait before the next one would. */
  int acquire(String key, long nowNanos) {
    if (ratePerSecond <= 0) {
      return 0;
    }
    double[] b = buckets.computeIfAbsent(key, k -> new double[] {burst, nowNanos});
    double refilled = Math.min(burst, b[0] + (nowNanos - b[1]) / 1e9 * ratePerSecond);
    b[1] = nowNanos;
    if (refilled >= 1) {
      b[0] = refilled - 1;
      return 0;
    }
    b[0] = refilled;
    return (int) Math.max(1, Math.ceil((1 - refilled) / ratePerSecond));
  }
}
