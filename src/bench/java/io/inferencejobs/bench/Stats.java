package io.inferencejobs.bench;

import java.util.Arrays;
import java.util.List;

/** Percentiles of a sample of latencies (ms). */
final class Stats {
  private Stats() {
  }

  static double pct(List<Double> values, double p) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(v);
    int idx = (int) Math.ceil(p / 100.0 * v.length) - 1;
    return v[Math.max(0, Math.min(v.length - 1, idx))];
  }

  static String summary(List<Double> values) {
    return String.format("n=%d p50=%.1f ms p95=%.1f ms p99=%.1f ms max=%.1f ms", values.size(), pct(values, 50),
        pct(values, 95), pct(values, 99), pct(values, 100));
  }
}
