package io.inferencejobs.inference;

import java.nio.FloatBuffer;

/**
 * YOLOv8-seg masks, as Ultralytics' {@code process_mask}: the logits are the box's coefficients times the prototypes,
 * upsampled bilinearly (half-pixel centres) and kept where positive (sigmoid above 0.5), inside the box. Here each
 * pixel of the original image inside the box is mapped through the letterbox straight to the prototype grid, so the
 * mask comes out at the original size without an intermediate input-size mask.
 */
final class Masks {
  private Masks() {
  }

  /**
   * @param protos     the prototypes output
   * @param offset     where this image's prototypes start in it
   * @param nm         prototype count
   * @param ph         prototype height
   * @param pw         prototype width
   * @param coef       the box's nm coefficients
   * @param box        the box in original-image pixels
   * @param g          the image's geometry (original to model input)
   */
  static Mask mask(FloatBuffer protos, int offset, int nm, int ph, int pw, float[] coef, BBox box, ImageGeometry g) {
    int width = g.srcWidth();
    int height = g.srcHeight();
    int rx = Math.max(0, (int) Math.floor(box.x1()));
    int ry = Math.max(0, (int) Math.floor(box.y1()));
    int rx2 = Math.min(width, (int) Math.ceil(box.x2()));
    int ry2 = Math.min(height, (int) Math.ceil(box.y2()));
    int rw = Math.max(0, rx2 - rx);
    int rh = Math.max(0, ry2 - ry);
    if (rw == 0 || rh == 0) {
      return new Mask(height, width, Rle.encode(new boolean[0], 0, 0, 0, 0, height, width), 0);
    }
    float sx = (float) pw / g.dstWidth();
    float sy = (float) ph / g.dstHeight();
    // the prototype cells the region reads, one cell of margin for the bilinear neighbours
    int px0 = clamp((int) Math.floor(proto(rx, g.gainX(), g.padLeft(), sx)) - 1, pw);
    int px1 = clamp((int) Math.ceil(proto(rx2, g.gainX(), g.padLeft(), sx)) + 1, pw);
    int py0 = clamp((int) Math.floor(proto(ry, g.gainY(), g.padTop(), sy)) - 1, ph);
    int py1 = clamp((int) Math.ceil(proto(ry2, g.gainY(), g.padTop(), sy)) + 1, ph);
    int cw = px1 - px0 + 1;
    int ch = py1 - py0 + 1;
    float[] logits = new float[cw * ch];
    int plane = ph * pw;
    for (int k = 0; k < nm; k++) {
      float c = coef[k];
      if (c == 0f) {
        continue;
      }
      int base = offset + k * plane;
      for (int y = 0; y < ch; y++) {
        int row = base + (py0 + y) * pw + px0;
        int o = y * cw;
        for (int x = 0; x < cw; x++) {
          logits[o + x] += c * protos.get(row + x);
        }
      }
    }
    // per column and per row of the region, where it falls on the grid (computed once)
    int[] x0 = new int[rw];
    float[] fx = new float[rw];
    for (int i = 0; i < rw; i++) {
      float u = Math.max(0f, Math.min(pw - 1, proto(rx + i + 0.5f, g.gainX(), g.padLeft(), sx) - 0.5f));
      int base = (int) u;
      x0[i] = Math.max(0, Math.min(cw - 1, base - px0));
      fx[i] = u - base;
    }
    boolean[] region = new boolean[rw * rh];
    long area = 0;
    for (int j = 0; j < rh; j++) {
      float v = Math.max(0f, Math.min(ph - 1, proto(ry + j + 0.5f, g.gainY(), g.padTop(), sy) - 0.5f));
      int base = (int) v;
      int y0 = Math.max(0, Math.min(ch - 1, base - py0));
      float fy = v - base;
      int r0 = y0 * cw;
      int r1 = Math.min(ch - 1, y0 + 1) * cw;
      for (int i = 0; i < rw; i++) {
        int a = x0[i];
        int b = Math.min(cw - 1, a + 1);
        float top = logits[r0 + a] + (logits[r0 + b] - logits[r0 + a]) * fx[i];
        float bottom = logits[r1 + a] + (logits[r1 + b] - logits[r1 + a]) * fx[i];
        if (top + (bottom - top) * fy > 0f) {
          region[j * rw + i] = true;
          area++;
        }
      }
    }
    return new Mask(height, width, Rle.encode(region, rx, ry, rw, rh, height, width), area);
  }

  /** Original-image coordinate {@code s} on the prototype grid (continuous, cell centres at k + 0.5). */
  private static float proto(float s, float gain, int pad, float scale) {
    return (s * gain + pad) * scale;
  }

  private static int clamp(int v, int size) {
    return Math.max(0, Math.min(size - 1, v));
  }
}
