package io.inferencejobs.inference;

import java.util.Arrays;
import java.util.Locale;

/** The output layouts the engine can decode. */
public enum OutputLayout {
  /** Ultralytics YOLOv8/YOLO11 detect export: [N, 4+nc, A], rows cx, cy, w, h then class scores; needs NMS. */
  YOLOV8,
  /** YOLOv5 detect export: [N, A, 5+nc], cx, cy, w, h, objectness then class scores; needs NMS. */
  YOLOV5,
  /** End-to-end (NMS-free, YOLOv10/YOLO26 style): [N, K, 6], x1, y1, x2, y2, score, class. */
  END2END,
  /** Classification: [N, nc] probabilities or logits. */
  CLASSIFICATION,
  /**
   * Ultralytics YOLOv8/11 segment export: [N, 4+nc+nm, A] (box, class scores, nm mask coefficients) with the
   * prototypes [N, nm, H/4, W/4] as a second output; needs NMS.
   */
  SEGMENT,
  /** Ultralytics YOLOv8/11 pose export: [N, 4+nc+K*D, A] (box, class scores, K keypoints of x, y[, score]). */
  POSE,
  /** Ultralytics YOLOv8/11 OBB export: [N, 4+nc+1, A] (cx, cy, w, h, class scores, angle in radians); rotated NMS. */
  OBB,
  /**
   * End-to-end segment export (NMS in the graph): [N, K, 6+nm], x1, y1, x2, y2, score, class, then nm mask
   * coefficients, with the prototypes [N, nm, H, W] as a second output.
   */
  SEGMENT_E2E,
  /** End-to-end pose export: [N, K, 6+K*D], x1, y1, x2, y2, score, class, then x, y[, score] per keypoint. */
  POSE_E2E,
  /** End-to-end OBB export: [N, K, 7], cx, cy, w, h, score, class, angle in radians. */
  OBB_E2E;

  static final String SUPPORTED = "yolov8 [N,4+nc,A], yolov5 [N,A,5+nc], end2end [N,K,6], classification [N,nc], "
      + "segment [N,4+nc+nm,A] with prototypes [N,nm,H,W], pose [N,4+nc+K*D,A], obb [N,4+nc+1,A], "
      + "segment_e2e [N,K,6+nm] with prototypes [N,nm,H,W], pose_e2e [N,K,6+K*D], obb_e2e [N,K,7]";

  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The Ultralytics task this layout's results belong to: detect, classify, segment, pose or obb. */
  public String task() {
    return switch (this) {
      case YOLOV8, YOLOV5, END2END -> "detect";
      case CLASSIFICATION -> "classify";
      case SEGMENT, SEGMENT_E2E -> "segment";
      case POSE, POSE_E2E -> "pose";
      case OBB, OBB_E2E -> "obb";
    };
  }

  /** Whether the graph already did the NMS and the output is one row per kept object. */
  public boolean endToEnd() {
    return this == END2END || this == SEGMENT_E2E || this == POSE_E2E || this == OBB_E2E;
  }

  boolean segment() {
    return this == SEGMENT || this == SEGMENT_E2E;
  }

  boolean pose() {
    return this == POSE || this == POSE_E2E;
  }

  boolean obb() {
    return this == OBB || this == OBB_E2E;
  }

  public static OutputLayout parse(String text) {
    String t = text.trim().toLowerCase(Locale.ROOT).replace("-", "").replace("_", "");
    return switch (t) {
      case "yolov8", "yolo11", "yolov11", "yolo" -> YOLOV8;
      case "yolov5" -> YOLOV5;
      case "end2end", "e2e", "nmsfree" -> END2END;
      case "classification", "classify" -> CLASSIFICATION;
      case "segment", "segmentation", "yolov8seg" -> SEGMENT;
      case "pose", "yolov8pose" -> POSE;
      case "obb", "yolov8obb" -> OBB;
      case "segmente2e", "segmentend2end" -> SEGMENT_E2E;
      case "posee2e", "poseend2end" -> POSE_E2E;
      case "obbe2e", "obbend2end" -> OBB_E2E;
      default -> throw new IllegalArgumentException("unknown output layout '" + text + "'; supported: " + SUPPORTED);
    };
  }

  /**
   * Picks the layout from an output shape (batch axis first).
   *
   * @param shape      output shape; non-batch axes must be known
   * @param numClasses class count from metadata or descriptor, or -1 when unknown
   * @param end2end    the {@code end2end} metadata flag, or null when absent
   * @param task       the {@code task} metadata entry, or null
   * @return the layout, or null when none fits
   */
  static OutputLayout detect(long[] shape, int numClasses, Boolean end2end, String task) {
    return detect(shape, numClasses, end2end, task, -1);
  }

  /**
   * As above, with {@code extra}: the values each object has after its class (segment: mask coefficients, pose:
   * keypoint values, obb: the angle), or -1 when unknown. Without the end2end flag, a segment, pose or obb output is
   * the ordinary layout when its rows are 4 + classes + extra, end-to-end when its columns are 6 + extra, otherwise
   * the ordinary one (its checks then say what does not fit), or, when extra is unknown, told by its long axis
   * (anchors follow the rows; K objects come before their columns).
   */
  static OutputLayout detect(long[] shape, int numClasses, Boolean end2end, String task, int extra) {
    if (shape.length == 2) {
      boolean fits = numClasses < 0 || shape[1] == numClasses;
      return fits && shape[1] > 0 && (task == null || task.equals("classify")) ? CLASSIFICATION : null;
    }
    if (shape.length == 3 && ("segment".equals(task) || "pose".equals(task) || "obb".equals(task))) {
      if (shape[1] <= 0 || shape[2] <= 0) {
        return null;
      }
      int more = "obb".equals(task) ? 1 : extra;
      boolean e2e;
      if (end2end != null) {
        e2e = end2end;
      } else if (numClasses > 0 && more >= 0 && shape[1] == 4 + numClasses + more) {
        e2e = false;
      } else if (more >= 0 && shape[2] == 6 + more) {
        e2e = true;
      } else { // neither fits: the ordinary layout, whose check says what is wrong, unless nothing is known
        e2e = more < 0 && shape[1] > shape[2];
      }
      return switch (task) {
        case "segment" -> e2e ? (shape[2] > 6 ? SEGMENT_E2E : null) : (shape[1] > 4 ? SEGMENT : null);
        case "pose" -> e2e ? (shape[2] > 6 ? POSE_E2E : null) : (shape[1] > 4 ? POSE : null);
        default -> e2e ? (shape[2] == 7 ? OBB_E2E : null) : (shape[1] > 5 ? OBB : null);
      };
    }
    if (shape.length != 3 || (task != null && !task.equals("detect"))) {
      return null;
    }
    long d1 = shape[1];
    long d2 = shape[2];
    if (d1 <= 0 || d2 <= 0) {
      return null;
    }
    if (d2 == 6 && (Boolean.TRUE.equals(end2end) || (end2end == null && d1 <= 1000 && numClasses != 1))) {
      return END2END;
    }
    if (Boolean.TRUE.equals(end2end)) {
      return null;
    }
    if (numClasses > 0) {
      if (d1 == 4 + numClasses) {
        return YOLOV8;
      }
      if (d2 == 5 + numClasses) {
        return YOLOV5;
      }
      return null;
    }
    // No class count: the anchor axis is the long one.
    if (d1 > 4 && d1 < d2) {
      return YOLOV8;
    }
    if (d2 > 5 && d2 < d1) {
      return YOLOV5;
    }
    return null;
  }

  static String describe(long[] shape) {
    return Arrays.toString(shape).replace(" ", "").replace("-1", "?");
  }
}
