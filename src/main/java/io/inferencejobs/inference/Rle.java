package io.inferencejobs.inference;

/**
 * COCO run-length encoding, as pycocotools writes it: runs over the pixels in column-major order (x outer, y inner),
 * starting with a run of zeros, and the runs written as the compressed string of {@code rleToString} (each count
 * after the second as the difference to the count two before, in 5-bit groups with a continuation bit, plus 48).
 */
public final class Rle {
  private Rle() {
  }

  /**
   * Encodes a mask that is zero outside the region ({@code rx, ry, rw, rh}); {@code region} holds the region's pixels
   * row-major. Runs through the untouched columns are counted, not visited pixel by pixel.
   */
  public static String encode(boolean[] region, int rx, int ry, int rw, int rh, int height, int width) {
    LongRuns runs = new LongRuns();
    boolean current = false;
    long run = 0;
    for (int x = 0; x < width; x++) {
      if (x < rx || x >= rx + rw) {
        if (current) {
          runs.add(run);
          current = false;
          run = 0;
        }
        run += height;
        continue;
      }
      for (int y = 0; y < height; y++) {
        boolean v = y >= ry && y < ry + rh && region[(y - ry) * rw + (x - rx)];
        if (v != current) {
          runs.add(run);
          current = v;
          run = 0;
        }
        run++;
      }
    }
    runs.add(run);
    return toString(runs.values, runs.size);
  }

  /** The compressed string of run lengths, as pycocotools' {@code rleToString}. */
  static String toString(long[] counts, int n) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < n; i++) {
      long x = counts[i];
      if (i > 2) {
        x -= counts[i - 2];
      }
      boolean more = true;
      while (more) {
        long c = x & 0x1f;
        x >>= 5;
        more = (c & 0x10) != 0 ? x != -1 : x != 0;
        if (more) {
          c |= 0x20;
        }
        s.append((char) (c + 48));
      }
    }
    return s.toString();
  }

  /** The run lengths of a compressed string, as pycocotools' {@code rleFrString}. */
  public static long[] counts(String s) {
    LongRuns runs = new LongRuns();
    int p = 0;
    while (p < s.length()) {
      long x = 0;
      int k = 0;
      boolean more = true;
      while (more) {
        if (p >= s.length()) {
          throw new IllegalArgumentException("RLE string ends inside a count");
        }
        long c = s.charAt(p) - 48;
        x |= (c & 0x1f) << (5 * k);
        more = (c & 0x20) != 0;
        p++;
        k++;
        if (!more && (c & 0x10) != 0) {
          x |= -1L << (5 * k);
        }
      }
      if (runs.size > 2) {
        x += runs.values[runs.size - 2];
      }
      runs.add(x);
    }
    long[] out = new long[runs.size];
    System.arraycopy(runs.values, 0, out, 0, runs.size);
    return out;
  }

  /** The mask of a compressed string, row-major ({@code [y * width + x]}). */
  public static boolean[] decode(String s, int height, int width) {
    long[] counts = counts(s);
    boolean[] mask = new boolean[height * width];
    long pos = 0;
    boolean v = false;
    for (long c : counts) {
      for (long i = 0; i < c; i++, pos++) {
        if (v) {
          int x = (int) (pos / height);
          int y = (int) (pos % height);
          mask[y * width + x] = true;
        }
      }
      v = !v;
    }
    if (pos != (long) height * width) {
      throw new IllegalArgumentException("RLE covers " + pos + " pixels, the mask has " + ((long) height * width));
    }
    return mask;
  }

  private static final class LongRuns {
    long[] values = new long[64];
    int size;

    void add(long v) {
      if (size == values.length) {
        values = java.util.Arrays.copyOf(values, size * 2);
      }
      values[size++] = v;
    }
  }
}
