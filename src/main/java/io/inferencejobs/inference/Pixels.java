package io.inferencejobs.inference;

/**
 * 8-bit pixels straight from a decoded raster, without copying: sample (x, y, channel) lives at
 * {@code data[offset + y * rowStride + x * pixelStride + channelOffset]}. Grayscale uses the same offset three times.
 * With {@code ycc} the three channels are JPEG YCbCr (Y, Cb, Cr in place of R, G, B), converted after resizing.
 */
record Pixels(byte[] data, int offset, int width, int height, int pixelStride, int rowStride, int red, int green,
              int blue, boolean ycc) {

  Pixels(byte[] data, int offset, int width, int height, int pixelStride, int rowStride, int red, int green,
         int blue) {
    this(data, offset, width, height, pixelStride, rowStride, red, green, blue, false);
  }

  /** Applies an EXIF orientation (1..8), copying into packed RGB; 1 returns this. */
  Pixels oriented(int orientation) {
    if (orientation <= 1 || orientation > 8) {
      return this;
    }
    boolean swap = orientation >= 5;
    int w = swap ? height : width;
    int h = swap ? width : height;
    byte[] out = new byte[w * h * 3];
    int o = 0;
    for (int dy = 0; dy < h; dy++) {
      for (int dx = 0; dx < w; dx++) {
        int sx;
        int sy;
        switch (orientation) {
          case 2 -> { sx = width - 1 - dx; sy = dy; }
          case 3 -> { sx = width - 1 - dx; sy = height - 1 - dy; }
          case 4 -> { sx = dx; sy = height - 1 - dy; }
          case 5 -> { sx = dy; sy = dx; }
          case 6 -> { sx = dy; sy = height - 1 - dx; }
          case 7 -> { sx = width - 1 - dy; sy = height - 1 - dx; }
          default -> { sx = width - 1 - dy; sy = dx; } // 8
        }
        int s = offset + sy * rowStride + sx * pixelStride;
        out[o++] = data[s + red];
        out[o++] = data[s + green];
        out[o++] = data[s + blue];
      }
    }
    return new Pixels(out, 0, w, h, 3, w * 3, 0, 1, 2, ycc);
  }
}
