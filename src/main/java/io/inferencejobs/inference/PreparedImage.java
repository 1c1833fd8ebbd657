package io.inferencejobs.inference;

/**
 * An image decoded and turned into one model input by {@link InferenceEngine#prepare(byte[])}, ready for
 * {@link InferenceEngine#infer}. Only the engine that prepared it can run it.
 */
public final class PreparedImage {

  final float[] tensor;
  final Object owner;
  private final ImageGeometry geometry;
  private final double decodeMs;
  private final double preprocessMs;

  PreparedImage(float[] tensor, Object owner, ImageGeometry geometry, double decodeMs, double preprocessMs) {
    this.tensor = tensor;
    this.owner = owner;
    this.geometry = geometry;
    this.decodeMs = decodeMs;
    this.preprocessMs = preprocessMs;
  }

  /** Original width, after EXIF rotation. */
  public int width() {
    return geometry.srcWidth();
  }

  /** Original height, after EXIF rotation. */
  public int height() {
    return geometry.srcHeight();
  }

  public ImageGeometry geometry() {
    return geometry;
  }

  public double decodeMs() {
    return decodeMs;
  }

  public double preprocessMs() {
    return preprocessMs;
  }
}
