package io.inferencejobs.inference;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** NMS over oriented boxes: the overlap is the area of the intersection of the two rotated rectangles. */
final class RotatedNms {
  private RotatedNms() {
  }

  /** A candidate with its oriented box in model-input pixels. */
  record Rotated(Candidate candidate, float cx, float cy, float w, float h, float angle) {
    float[] corners() {
      return Obb.corners(cx, cy, w, h, angle);
    }
  }

  static List<Rotated> run(List<Rotated> in, float iouThreshold, boolean agnostic, int max) {
    List<Rotated> sorted = new ArrayList<>(in);
    sorted.sort(Comparator.comparingDouble((Rotated r) -> -r.candidate().score())
        .thenComparingInt(r -> r.candidate().index()));
    List<Rotated> kept = new ArrayList<>();
    List<float[]> keptCorners = new ArrayList<>();
    for (Rotated r : sorted) {
      if (kept.size() >= max) {
        break;
      }
      float[] c = r.corners();
      boolean suppressed = false;
      for (int k = 0; k < kept.size() && !suppressed; k++) {
        Rotated o = kept.get(k);
        if (!agnostic && o.candidate().classId() != r.candidate().classId()) {
          continue;
        }
        suppressed = iou(c, r.w() * r.h(), keptCorners.get(k), o.w() * o.h()) > iouThreshold;
      }
      if (!suppressed) {
        kept.add(r);
        keptCorners.add(c);
      }
    }
    return kept;
  }

  static double iou(float[] a, double areaA, float[] b, double areaB) {
    double inter = area(clip(a, b));
    double union = areaA + areaB - inter;
    return union <= 0 ? 0 : inter / union;
  }

  /** Sutherland-Hodgman: polygon {@code subject} clipped by the convex polygon {@code clip} (both x, y pairs). */
  static float[] clip(float[] subject, float[] clip) {
    double orientation = signedArea(clip);
    List<double[]> out = new ArrayList<>();
    for (int i = 0; i < subject.length; i += 2) {
      out.add(new double[] {subject[i], subject[i + 1]});
    }
    int n = clip.length / 2;
    for (int e = 0; e < n && !out.isEmpty(); e++) {
      double ax = clip[2 * e];
      double ay = clip[2 * e + 1];
      double bx = clip[2 * ((e + 1) % n)];
      double by = clip[2 * ((e + 1) % n) + 1];
      List<double[]> input = out;
      out = new ArrayList<>();
      for (int i = 0; i < input.size(); i++) {
        double[] p = input.get(i);
        double[] q = input.get((i + 1) % input.size());
        boolean pIn = side(ax, ay, bx, by, p) * orientation >= 0;
        boolean qIn = side(ax, ay, bx, by, q) * orientation >= 0;
        if (pIn) {
          out.add(p);
        }
        if (pIn != qIn) {
          out.add(intersection(ax, ay, bx, by, p, q));
        }
      }
    }
    float[] flat = new float[out.size() * 2];
    for (int i = 0; i < out.size(); i++) {
      flat[2 * i] = (float) out.get(i)[0];
      flat[2 * i + 1] = (float) out.get(i)[1];
    }
    return flat;
  }

  private static double side(double ax, double ay, double bx, double by, double[] p) {
    return (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax);
  }

  private static double[] intersection(double ax, double ay, double bx, double by, double[] p, double[] q) {
    double a1 = by - ay;
    double b1 = ax - bx;
    double c1 = a1 * ax + b1 * ay;
    double a2 = q[1] - p[1];
    double b2 = p[0] - q[0];
    double c2 = a2 * p[0] + b2 * p[1];
    double det = a1 * b2 - a2 * b1;
    if (Math.abs(det) < 1e-12) {
      return p;
    }
    return new double[] {(b2 * c1 - b1 * c2) / det, (a1 * c2 - a2 * c1) / det};
  }

  private static double signedArea(float[] poly) {
    double a = 0;
    int n = poly.length / 2;
    for (int i = 0; i < n; i++) {
      int j = (i + 1) % n;
      a += (double) poly[2 * i] * poly[2 * j + 1] - (double) poly[2 * j] * poly[2 * i + 1];
    }
    return a / 2;
  }

  static double area(float[] poly) {
    return Math.abs(signedArea(poly));
  }
}
