package io.inferencejobs.inference;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Turns one image's slice of an output tensor into scored boxes in model-input pixels. Each method reads the
 * buffer with absolute gets starting at {@code offset}, so a batch output is decoded image by image without copies.
 */
final class Decoders {

  private Decoders() {
  }

  /** Decodes one image and applies NMS (or, for NMS-free layouts, sorting) and the detection limit. */
  static List<Candidate> decode(OutputLayout layout, FloatBuffer out, int image, long[] shape, DetectionParams p) {
    return decode(layout, out, image, shape, p, 0);
  }

  /**
   * As above; {@code extraRows} are the rows after the class scores that are not classes (mask coefficients,
   * keypoints), read later for the kept boxes.
   */
  static List<Candidate> decode(OutputLayout layout, FloatBuffer out, int image, long[] shape, DetectionParams p,
                                int extraRows) {
    int d1 = (int) shape[1];
    int d2 = shape.length > 2 ? (int) shape[2] : 1;
    int offset = image * d1 * d2;
    return switch (layout) {
      case YOLOV8 -> Nms.run(yolov8(out, offset, d1, d2, p), p.iouThreshold(), p.agnosticNms(), p.maxDetections());
      case YOLOV5 -> Nms.run(yolov5(out, offset, d1, d2, p), p.iouThreshold(), p.agnosticNms(), p.maxDetections());
      case END2END, SEGMENT_E2E, POSE_E2E -> top(end2end(out, offset, d1, d2, p), p.maxDetections());
      case CLASSIFICATION -> top(classification(out, offset, d1, p), p.maxDetections());
      case SEGMENT, POSE -> Nms.run(yolov8(out, offset, d1 - extraRows, d2, p), p.iouThreshold(), p.agnosticNms(),
          p.maxDetections());
      case OBB, OBB_E2E -> oriented(layout, out, offset, d1, d2, p).stream().map(RotatedNms.Rotated::candidate)
          .toList();
    };
  }

  /** The oriented boxes of one image at {@code offset}: rotated NMS for obb, the graph's own for obb_e2e. */
  static List<RotatedNms.Rotated> oriented(OutputLayout layout, FloatBuffer out, int offset, int d1, int d2,
                                           DetectionParams p) {
    return layout == OutputLayout.OBB_E2E ? obbEnd2end(out, offset, d1, d2, p) : obb(out, offset, d1, d2, p);
  }

  /** [K, 7]: cx, cy, w, h, score, class, angle; already past NMS, so only sorted and cut to the limit. */
  static List<RotatedNms.Rotated> obbEnd2end(FloatBuffer out, int offset, int k, int cols, DetectionParams p) {
    List<RotatedNms.Rotated> found = new ArrayList<>();
    for (int i = 0; i < k; i++) {
      int base = offset + i * cols;
      float score = out.get(base + 4);
      int classId = Math.round(out.get(base + 5));
      if (score >= p.confidenceThreshold() && classId >= 0 && p.accepts(classId)) {
        float cx = out.get(base);
        float cy = out.get(base + 1);
        float w = out.get(base + 2);
        float h = out.get(base + 3);
        Candidate c = new Candidate(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, classId, i);
        found.add(new RotatedNms.Rotated(c, cx, cy, w, h, out.get(base + 6)));
      }
    }
    found.sort(Comparator.comparingDouble((RotatedNms.Rotated r) -> -r.candidate().score())
        .thenComparingInt(r -> r.candidate().index()));
    return found.size() > p.maxDetections() ? new ArrayList<>(found.subList(0, p.maxDetections())) : found;
  }

  /** [4+nc+1, A]: as yolov8 for the scores; the last row is the angle; NMS on the rotated boxes. */
  static List<RotatedNms.Rotated> obb(FloatBuffer out, int offset, int rows, int anchors, DetectionParams p) {
    List<RotatedNms.Rotated> rotated = new ArrayList<>();
    for (Candidate c : yolov8(out, offset, rows - 1, anchors, p)) {
      int a = c.index();
      rotated.add(new RotatedNms.Rotated(c, out.get(offset + a), out.get(offset + anchors + a),
          out.get(offset + 2 * anchors + a), out.get(offset + 3 * anchors + a),
          out.get(offset + (rows - 1) * anchors + a)));
    }
    return RotatedNms.run(rotated, p.iouThreshold(), p.agnosticNms(), p.maxDetections());
  }

  /** [4+nc, A]: row-major, so class scores are read row by row (contiguous) to find each column's best class. */
  static List<Candidate> yolov8(FloatBuffer out, int offset, int rows, int anchors, DetectionParams p) {
    int nc = rows - 4;
    float[] best = new float[anchors];
    int[] bestClass = new int[anchors];
    java.util.Arrays.fill(best, Float.NEGATIVE_INFINITY);
    for (int c = 0; c < nc; c++) {
      int row = offset + (4 + c) * anchors;
      for (int a = 0; a < anchors; a++) {
        float s = out.get(row + a);
        if (s > best[a]) {
          best[a] = s;
          bestClass[a] = c;
        }
      }
    }
    List<Candidate> found = new ArrayList<>();
    for (int a = 0; a < anchors; a++) {
      float score = best[a];
      if (score >= p.confidenceThreshold() && p.accepts(bestClass[a])) {
        float cx = out.get(offset + a);
        float cy = out.get(offset + anchors + a);
        float w = out.get(offset + 2 * anchors + a);
        float h = out.get(offset + 3 * anchors + a);
        found.add(new Candidate(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, bestClass[a], a));
      }
    }
    return found;
  }

  /** [A, 5+nc]: objectness gates the anchor, score = objectness x class score. */
  static List<Candidate> yolov5(FloatBuffer out, int offset, int anchors, int cols, DetectionParams p) {
    int nc = cols - 5;
    List<Candidate> found = new ArrayList<>();
    for (int a = 0; a < anchors; a++) {
      int base = offset + a * cols;
      float objectness = out.get(base + 4);
      if (objectness < p.confidenceThreshold()) {
        continue;
      }
      float best = Float.NEGATIVE_INFINITY;
      int bestClass = 0;
      for (int c = 0; c < nc; c++) {
        float s = out.get(base + 5 + c);
        if (s > best) {
          best = s;
          bestClass = c;
        }
      }
      float score = nc == 0 ? objectness : objectness * best;
      if (score >= p.confidenceThreshold() && p.accepts(bestClass)) {
        float cx = out.get(base);
        float cy = out.get(base + 1);
        float w = out.get(base + 2);
        float h = out.get(base + 3);
        found.add(new Candidate(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, bestClass, a));
      }
    }
    return found;
  }

  /** [K, 6]: x1, y1, x2, y2, score, class (as a float). */
  static List<Candidate> end2end(FloatBuffer out, int offset, int k, int cols, DetectionParams p) {
    List<Candidate> found = new ArrayList<>();
    for (int i = 0; i < k; i++) {
      int base = offset + i * cols;
      float score = out.get(base + 4);
      int classId = Math.round(out.get(base + 5));
      if (score >= p.confidenceThreshold() && classId >= 0 && p.accepts(classId)) {
        found.add(new Candidate(out.get(base), out.get(base + 1), out.get(base + 2), out.get(base + 3), score,
            classId, i));
      }
    }
    return found;
  }

  /**
   * [nc]: taken as probabilities when every value lies in 0..1, otherwise as logits and passed through softmax.
   * The candidates carry no box; the engine gives them the whole image.
   */
  static List<Candidate> classification(FloatBuffer out, int offset, int nc, DetectionParams p) {
    float[] scores = new float[nc];
    boolean probabilities = true;
    float max = Float.NEGATIVE_INFINITY;
    for (int c = 0; c < nc; c++) {
      float v = out.get(offset + c);
      scores[c] = v;
      probabilities &= v >= 0f && v <= 1f;
      max = Math.max(max, v);
    }
    if (!probabilities) {
      double sum = 0;
      for (int c = 0; c < nc; c++) {
        sum += Math.exp(scores[c] - max);
      }
      for (int c = 0; c < nc; c++) {
        scores[c] = (float) (Math.exp(scores[c] - max) / sum);
      }
    }
    List<Candidate> found = new ArrayList<>();
    for (int c = 0; c < nc; c++) {
      if (scores[c] >= p.confidenceThreshold() && p.accepts(c)) {
        found.add(new Candidate(0, 0, 0, 0, scores[c], c, c));
      }
    }
    return found;
  }

  private static List<Candidate> top(List<Candidate> candidates, int max) {
    candidates.sort(Nms.BEST_FIRST);
    return candidates.size() > max ? new ArrayList<>(candidates.subList(0, max)) : candidates;
  }
}
