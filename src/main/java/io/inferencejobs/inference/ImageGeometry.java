package io.inferencejobs.inference;

/**
 * Where an image of {@code srcWidth x srcHeight} lands in the model input, and the way back.
 * The image is resized to {@code resizedWidth x resizedHeight} and placed at ({@code padLeft}, {@code padTop});
 * a point maps back as {@code (x - padLeft) / gainX}.
 */
public record ImageGeometry(int srcWidth, int srcHeight, int dstWidth, int dstHeight, int resizedWidth,
                            int resizedHeight, int padLeft, int padTop, float gainX, float gainY) {

  /** Ultralytics {@code LetterBox} (scaleup on, auto off) and {@code scale_boxes}: Python rounding, half to even. */
  public static ImageGeometry letterbox(int srcWidth, int srcHeight, int dstWidth, int dstHeight) {
    double r = Math.min((double) dstHeight / srcHeight, (double) dstWidth / srcWidth);
    int newW = (int) Math.rint(srcWidth * r);
    int newH = (int) Math.rint(srcHeight * r);
    newW = Math.max(1, Math.min(dstWidth, newW));
    newH = Math.max(1, Math.min(dstHeight, newH));
    double dw = (dstWidth - newW) / 2.0;
    double dh = (dstHeight - newH) / 2.0;
    int left = (int) Math.rint(dw - 0.1);
    int top = (int) Math.rint(dh - 0.1);
    return new ImageGeometry(srcWidth, srcHeight, dstWidth, dstHeight, newW, newH, Math.max(0, left), Math.max(0, top),
        (float) r, (float) r);
  }

  public static ImageGeometry stretch(int srcWidth, int srcHeight, int dstWidth, int dstHeight) {
    return new ImageGeometry(srcWidth, srcHeight, dstWidth, dstHeight, dstWidth, dstHeight, 0, 0,
        (float) dstWidth / srcWidth, (float) dstHeight / srcHeight);
  }

  public static ImageGeometry of(ResizeMode mode, int srcWidth, int srcHeight, int dstWidth, int dstHeight) {
    return mode == ResizeMode.LETTERBOX ? letterbox(srcWidth, srcHeight, dstWidth, dstHeight)
        : stretch(srcWidth, srcHeight, dstWidth, dstHeight);
  }

  /** Model-input x to original-image x, clipped to the image. */
  public float toSourceX(float x) {
    return clip((x - padLeft) / gainX, srcWidth);
  }

  public float toSourceY(float y) {
    return clip((y - padTop) / gainY, srcHeight);
  }

  /** Original-image x to model-input x. */
  public float toInputX(float x) {
    return x * gainX + padLeft;
  }

  public float toInputY(float y) {
    return y * gainY + padTop;
  }

  public BBox toSource(float x1, float y1, float x2, float y2) {
    return new BBox(toSourceX(x1), toSourceY(y1), toSourceX(x2), toSourceY(y2));
  }

  private static float clip(float v, int max) {
    return v < 0f ? 0f : Math.min(v, max);
  }
}
