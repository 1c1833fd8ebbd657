package io.inferencejobs.inference;

import java.util.Arrays;

/**
 * Bilinear resize (OpenCV {@code INTER_LINEAR} geometry: half-pixel centres, edge clamping, rounding to 8 bits) from
 * raster bytes straight into the float input tensor, with padding and per-channel {@code value * mul + add}.
 * One pass, no intermediate image.
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
    int c0 = bgr && !src.ycc() ? src.blue() : src.red();
    int c1 = src.green();
    int c2 = bgr && !src.ycc() ? src.red() : src.blue();
    float m0 = mul[0];
    float m1 = mul[1];
    float m2 = mul[2];
    float a0 = add[0];
    float a1 = add[1];
    float a2 = add[2];
    int plane = dstW * dstH;
    int channelStride = nchw ? plane : 1;
    int step = nchw ? 1 : 3;
    boolean ycc = src.ycc();
    for (int y = 0; y < rh; y++) {
      int r0 = src.offset() + y0[y] * src.rowStride();
      int r1 = src.offset() + y1[y] * src.rowStride();
      float wy = fy[y];
      int o = (top + y) * dstW + left;
      int i = nchw ? o : 3 * o;
      if (!ycc) {
        for (int x = 0; x < rw; x++, i += step) {
          int p00 = r0 + x0[x];
          int p01 = r0 + x1[x];
          int p10 = r1 + x0[x];
          int p11 = r1 + x1[x];
          float wx = fx[x];
          out[i] = round8(lerp(d, p00 + c0, p01 + c0, p10 + c0, p11 + c0, wx, wy)) * m0 + a0;
          out[i + channelStride] = round8(lerp(d, p00 + c1, p01 + c1, p10 + c1, p11 + c1, wx, wy)) * m1 + a1;
          out[i + 2 * channelStride] = round8(lerp(d, p00 + c2, p01 + c2, p10 + c2, p11 + c2, wx, wy)) * m2 + a2;
        }
      } else {
        // Bilinear interpolation commutes with the (affine) JFIF YCbCr->RGB conversion, so convert after resizing:
        // fewer pixels to convert, and no full-size RGB copy.
        int cy = src.red();
        int cb = src.green();
        int cr = src.blue();
        for (int x = 0; x < rw; x++, i += step) {
          int p00 = r0 + x0[x];
          int p01 = r0 + x1[x];
          int p10 = r1 + x0[x];
          int p11 = r1 + x1[x];
          float wx = fx[x];
          float yv = lerp(d, p00 + cy, p01 + cy, p10 + cy, p11 + cy, wx, wy);
          float u = lerp(d, p00 + cb, p01 + cb, p10 + cb, p11 + cb, wx, wy) - 128f;
          float v = lerp(d, p00 + cr, p01 + cr, p10 + cr, p11 + cr, wx, wy) - 128f;
          float r = clamp8(yv + 1.402f * v);
          float gr = clamp8(yv - 0.344136f * u - 0.714136f * v);
          float b = clamp8(yv + 1.772f * u);
          out[i] = (bgr ? b : r) * m0 + a0;
          out[i + channelStride] = gr * m1 + a1;
          out[i + 2 * channelStride] = (bgr ? r : b) * m2 + a2;
        }
      }
    }
  }

  private static float round8(float v) {
    return (int) (v + 0.5f);
  }

  /** Clamps to 0..255 and rounds, as an 8-bit conversion would store it. */
  private static float clamp8(float v) {
    return v <= 0f ? 0f : v >= 255f ? 255f : (int) (v + 0.5f);
  }

  private static float lerp(byte[] d, int p00, int p01, int p10, int p11, float wx, float wy) {
    float a = d[p00] & 0xFF;
    float b = d[p01] & 0xFF;
    float c = d[p10] & 0xFF;
    float e = d[p11] & 0xFF;
    float top = a + (b - a) * wx;
    float bottom = c + (e - c) * wx;
    return top + (bottom - top) * wy;
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
      frac[d] = f;
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
