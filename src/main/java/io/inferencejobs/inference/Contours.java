package io.inferencejobs.inference;

import java.util.ArrayList;
import java.util.List;

/**
 * The outer contours of a mask, one per 8-connected piece, largest first: the boundary pixels traced clockwise (Moore
 * neighbour tracing) with straight runs kept only at their ends, as OpenCV's {@code CHAIN_APPROX_SIMPLE} keeps them.
 * Points are pixel coordinates in the mask's frame (x, y pairs).
 */
public final class Contours {
  /** Clockwise from west, in image coordinates (y down): W, NW, N, NE, E, SE, S, SW. */
  private static final int[] DX = {-1, -1, 0, 1, 1, 1, 0, -1};
  private static final int[] DY = {0, -1, -1, -1, 0, 1, 1, 1};

  private Contours() {
  }

  /** Each contour as a flat array x0, y0, x1, y1, ...; pieces under {@code minPixels} are left out. */
  public static List<int[]> outer(boolean[] mask, int width, int height, int minPixels) {
    int[] label = new int[mask.length];
    List<int[]> out = new ArrayList<>();
    List<Integer> sizes = new ArrayList<>();
    int next = 0;
    for (int start = 0; start < mask.length; start++) {
      if (!mask[start] || label[start] != 0) {
        continue;
      }
      next++;
      int size = fill(mask, label, width, height, start, next);
      if (size < minPixels) {
        continue;
      }
      int[] contour = trace(mask, width, height, start % width, start / width);
      // largest piece first
      int at = 0;
      while (at < sizes.size() && sizes.get(at) >= size) {
        at++;
      }
      sizes.add(at, size);
      out.add(at, contour);
    }
    return out;
  }

  /** Labels the 8-connected piece of {@code start} (iteratively: a piece may have millions of pixels). */
  private static int fill(boolean[] mask, int[] label, int width, int height, int start, int id) {
    int[] stack = new int[64];
    int top = 0;
    stack[top++] = start;
    label[start] = id;
    int size = 0;
    while (top > 0) {
      int p = stack[--top];
      size++;
      int x = p % width;
      int y = p / width;
      for (int d = 0; d < 8; d++) {
        int nx = x + DX[d];
        int ny = y + DY[d];
        if (nx < 0 || ny < 0 || nx >= width || ny >= height) {
          continue;
        }
        int q = ny * width + nx;
        if (mask[q] && label[q] == 0) {
          label[q] = id;
          if (top == stack.length) {
            stack = java.util.Arrays.copyOf(stack, top * 2);
          }
          stack[top++] = q;
        }
      }
    }
    return size;
  }

  /**
   * Moore tracing from the piece's first pixel in row-major order (its top-left boundary pixel, entered from the
   * west), until it returns to that pixel in the same direction (Jacob's stopping criterion).
   */
  private static int[] trace(boolean[] mask, int width, int height, int sx, int sy) {
    List<int[]> points = new ArrayList<>();
    int x = sx;
    int y = sy;
    int from = 0; // the pixel to the west of the start is background
    int firstDir = -1;
    int lastDir = -1;
    int steps = 0;
    int limit = 4 * mask.length + 8;
    while (steps++ < limit) {
      int dir = -1;
      for (int i = 1; i <= 8; i++) {
        int d = (from + i) % 8;
        int nx = x + DX[d];
        int ny = y + DY[d];
        if (nx >= 0 && ny >= 0 && nx < width && ny < height && mask[ny * width + nx]) {
          dir = d;
          break;
        }
      }
      if (dir < 0) { // a single pixel
        points.add(new int[] {x, y});
        break;
      }
      if (firstDir < 0) {
        firstDir = dir;
      } else if (x == sx && y == sy && dir == firstDir) {
        break;
      }
      if (dir != lastDir) { // a turn: this pixel is a vertex
        points.add(new int[] {x, y});
        lastDir = dir;
      }
      x += DX[dir];
      y += DY[dir];
      from = (dir + 4) % 8; // the pixel we came from: the next sweep starts just past it, clockwise
    }
    int[] flat = new int[points.size() * 2];
    for (int i = 0; i < points.size(); i++) {
      flat[2 * i] = points.get(i)[0];
      flat[2 * i + 1] = points.get(i)[1];
    }
    return flat;
  }

  /** The area inside a contour (shoelace), in square pixels. */
  public static double area(int[] contour) {
    double a = 0;
    int n = contour.length / 2;
    for (int i = 0; i < n; i++) {
      int j = (i + 1) % n;
      a += (double) contour[2 * i] * contour[2 * j + 1] - (double) contour[2 * j] * contour[2 * i + 1];
    }
    return Math.abs(a) / 2;
  }
}
