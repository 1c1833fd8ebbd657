package io.inferencejobs.inference;

import java.util.Arrays;

/**
 * Bilinear resize (OpenCV {@code INTER_LINEAR} geometry: half-pixel centres, edge clamping) from
 * raster bytes straight into the float input tensor, with padding and per-channel {@code value * mul + add}.
 * One pass, no intermediate image. As OpenCV's 8-bit resize, which Ultralytics' own preprocessing runs, the weights
 * are whole 1/2048ths and RGB results are rounded to whole 8-bit levels before scaling: low-confidence outputs of
 * some models move by pixels with the unrounded values (a pose model's faint keypoints moved up to 16 px).
 */
final class Resizer {

  private Resizer() {
  }

  /**
   * @param src     upright pixels
   * @param g       where the image lands in the tensor
   * @param out     the tensor for one image: 3 x H x W (NCHW) or H x W x 3 (NHWC), H and W from {@code g}
   * @param nchw    planar (true) or interleaved (false)
   * @param bgr     channel 0 is blue instead of red
   * @param mul     per tensor channel, multiplies the 0..255 value
   * @param add     per tensor channel, added after
   * @param pad     per tensor channel, the value of padding (already scaled)
   */
  static void resize(Pixels src, ImageGeometry g, float[] out, boolean nchw, boolean bgr, float[] mul, float[] add,
                     float[] pad) {
    int dstW = g.dstWidth();
    int dstH = g.dstHeight();
    int rw = g.resizedWidth();
    int rh = g.resizedHeight();
    int left = g.padLeft();
    int top = g.padTop();
    fillPadding(out, dstW, dstH, left, top, rw, rh, nchw, pad);

    int ps = src.pixelStride();
    int[] x0 = new int[rw];
    int[] x1 = new int[rw];
    float[] fx = new float[rw];
    axis(src.width(), rw, x0, x1, fx);
    int[] y0 = new int[rh];
    int[] y1 = new int[rh];
    float[] fy = new float[rh];
    axis(src.height(), rh, y0, y1, fy);
    for (int i = 0; i < rw; i++) {
      x0[i] *= ps;
      x1[i] *= ps;
    }

    byte[] d = src.data();
    boolean ycc = src.ycc();
    int c0 = bgr && !ycc ? src.blue() : src.red();
    int c1 = src.green();
    int c2 = bgr && !ycc ? src.red() : src.blue();
    int plane = dstW * dstH;
    // Separable: each source row is resized horizontally once (into planar float rows, kept for the next output
    // row), then pairs of rows are blended vertically in simple loops the JIT can vectorise.
    float[][] upper = new float[3][rw];
    float[][] lower = new float[3][rw];
    int upperRow = -1;
    int lowerRow = -1;
    for (int y = 0; y < rh; y++) {
      int ya = y0[y];
      int yb = y1[y];
      if (upperRow != ya) {
        if (lowerRow == ya) {
          float[][] t = upper;
          upper = lower;
          lower = t;
          upperRow = ya;
          lowerRow = -1;
        } else {
          horizontal(d, src.offset() + ya * src.rowStride(), x0, x1, fx, c0, c1, c2, upper);
          upperRow = ya;
        }
      }
      if (lowerRow != yb) {
        horizontal(d, src.offset() + yb * src.rowStride(), x0, x1, fx, c0, c1, c2, lower);
        lowerRow = yb;
      }
      float wy = fy[y];
      int o = (top + y) * dstW + left;
      if (ycc) {
        verticalYcc(upper, lower, wy, out, o, nchw, plane, bgr, mul, add);
      } else if (nchw) {
        for (int c = 0; c < 3; c++) {
          float[] t = upper[c];
          float[] b = lower[c];
          float m = mul[c];
          float a = add[c];
          int base = c * plane + o;
          for (int x = 0; x < rw; x++) {
            out[base + x] = (int) (t[x] + (b[x] - t[x]) * wy + 0.5f) * m + a;
          }
        }
      } else {
        for (int c = 0; c < 3; c++) {
          float[] t = upper[c];
          float[] b = lower[c];
          float m = mul[c];
          float a = add[c];
          int base = 3 * o + c;
          for (int x = 0; x < rw; x++) {
            out[base + 3 * x] = (int) (t[x] + (b[x] - t[x]) * wy + 0.5f) * m + a;
          }
        }
      }
    }
  }

  private static void horizontal(byte[] d, int row, int[] x0, int[] x1, float[] fx, int c0, int c1, int c2,
                                 float[][] dst) {
    float[] h0 = dst[0];
    float[] h1 = dst[1];
    float[] h2 = dst[2];
    for (int x = 0; x < h0.length; x++) {
      int p0 = row + x0[x];
      int p1 = row + x1[x];
      float f = fx[x];
      float a = d[p0 + c0] & 0xFF;
      float b = d[p0 + c1] & 0xFF;
      float c = d[p0 + c2] & 0xFF;
      h0[x] = a + ((d[p1 + c0] & 0xFF) - a) * f;
      h1[x] = b + ((d[p1 + c1] & 0xFF) - b) * f;
      h2[x] = c + ((d[p1 + c2] & 0xFF) - c) * f;
    }
  }

  /**
   * Bilinear interpolation commutes with the affine JFIF YCbCr to RGB conversion, so the conversion runs after
   * resizing: fewer pixels, no full-size RGB copy. Only colours clipped at 0 or 255 differ slightly.
   */
  private static void verticalYcc(float[][] upper, float[][] lower, float wy, float[] out, int o, boolean nchw,
                                  int plane, boolean bgr, float[] mul, float[] add) {
    float[] ty = upper[0];
    float[] tu = upper[1];
    float[] tv = upper[2];
    float[] by = lower[0];
    float[] bu = lower[1];
    float[] bv = lower[2];
    float m0 = mul[0];
    float m1 = mul[1];
    float m2 = mul[2];
    float a0 = add[0];
    float a1 = add[1];
    float a2 = add[2];
    int n = ty.length;
    float mr = bgr ? m2 : m0;
    float ar = bgr ? a2 : a0;
    float mb = bgr ? m0 : m2;
    float ab = bgr ? a0 : a2;
    int cs = nchw ? plane : 1;
    int rBase = (nchw ? o : 3 * o) + (bgr ? 2 : 0) * cs;
    int gBase = (nchw ? o : 3 * o) + cs;
    int bBase = (nchw ? o : 3 * o) + (bgr ? 0 : 2) * cs;
    if (nchw) { // contiguous per plane: a loop the JIT vectorises
      for (int x = 0; x < n; x++) {
        float yv = ty[x] + (by[x] - ty[x]) * wy;
        float u = tu[x] + (bu[x] - tu[x]) * wy - 128f;
        float v = tv[x] + (bv[x] - tv[x]) * wy - 128f;
        out[rBase + x] = Math.max(0f, Math.min(255f, yv + 1.402f * v)) * mr + ar;
        out[gBase + x] = Math.max(0f, Math.min(255f, yv - 0.344136f * u - 0.714136f * v)) * m1 + a1;
        out[bBase + x] = Math.max(0f, Math.min(255f, yv + 1.772f * u)) * mb + ab;
      }
    } else {
      for (int x = 0; x < n; x++) {
        float yv = ty[x] + (by[x] - ty[x]) * wy;
        float u = tu[x] + (bu[x] - tu[x]) * wy - 128f;
        float v = tv[x] + (bv[x] - tv[x]) * wy - 128f;
        out[rBase + 3 * x] = Math.max(0f, Math.min(255f, yv + 1.402f * v)) * mr + ar;
        out[gBase + 3 * x] = Math.max(0f, Math.min(255f, yv - 0.344136f * u - 0.714136f * v)) * m1 + a1;
        out[bBase + 3 * x] = Math.max(0f, Math.min(255f, yv + 1.772f * u)) * mb + ab;
      }
    }
  }

  /** Source index pairs and weights along one axis: {@code s = (d + 0.5) * src / dst - 0.5}, clamped at the edges. */
  static void axis(int srcSize, int dstSize, int[] i0, int[] i1, float[] frac) {
    double scale = (double) srcSize / dstSize;
    for (int d = 0; d < dstSize; d++) {
      double s = (d + 0.5) * scale - 0.5;
      int lo = (int) Math.floor(s);
      float f = (float) (s - lo);
      if (lo < 0) {
        lo = 0;
        f = 0f;
      }
      if (lo >= srcSize - 1) {
        lo = srcSize - 1;
        f = 0f;
      }
      i0[d] = lo;
      i1[d] = Math.min(lo + 1, srcSize - 1);
      frac[d] = Math.round(f * 2048f) / 2048f; // OpenCV's INTER_RESIZE_COEF_SCALE
    }
  }

  private static void fillPadding(float[] out, int w, int h, int left, int top, int rw, int rh, boolean nchw,
                                  float[] pad) {
    if (rw == w && rh == h) {
      return;
    }
    int right = left + rw;
    int bottom = top + rh;
    if (nchw) {
      int plane = w * h;
      for (int c = 0; c < 3; c++) {
        int base = c * plane;
        float v = pad[c];
        Arrays.fill(out, base, base + top * w, v);
        Arrays.fill(out, base + bottom * w, base + plane, v);
        for (int y = top; y < bottom; y++) {
          Arrays.fill(out, base + y * w, base + y * w + left, v);
          Arrays.fill(out, base + y * w + right, base + (y + 1) * w, v);
        }
      }
    } else {
      for (int y = 0; y < h; y++) {
        boolean fullRow = y < top || y >= bottom;
        for (int x = 0; x < w; x++) {
          if (fullRow || x < left || x >= right) {
            int i = (y * w + x) * 3;
            out[i] = pad[0];
            out[i + 1] = pad[1];
            out[i + 2] = pad[2];
          }
        }
      }
    }
  }
}
