package io.inferencejobs.inference;

/**
 * An oriented box in original-image pixels (after EXIF rotation): centre, width and height along its own axes, angle
 * in radians (clockwise in image coordinates, as Ultralytics' xywhr), and its four corners as x0, y0, ..., x3, y3.
 */
public record Obb(float cx, float cy, float w, float h, float angle, float[] corners) {

  /** The corners of (cx, cy, w, h, angle), clockwise from the one at (-w/2, -h/2) before rotation. */
  static float[] corners(float cx, float cy, float w, float h, float angle) {
    double c = Math.cos(angle);
    double s = Math.sin(angle);
    float[] out = new float[8];
    double[][] local = {{-w / 2.0, -h / 2.0}, {w / 2.0, -h / 2.0}, {w / 2.0, h / 2.0}, {-w / 2.0, h / 2.0}};
    for (int i = 0; i < 4; i++) {
      out[2 * i] = (float) (cx + local[i][0] * c - local[i][1] * s);
      out[2 * i + 1] = (float) (cy + local[i][0] * s + local[i][1] * c);
    }
    return out;
  }
}
