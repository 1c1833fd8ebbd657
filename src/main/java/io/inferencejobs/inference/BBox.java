package io.inferencejobs.inference;

/** A box in original-image pixels (after EXIF rotation): top-left and bottom-right corners. */
public record BBox(float x1, float y1, float x2, float y2) {

  public float width() {
    return x2 - x1;
  }

  public float height() {
    return y2 - y1;
  }
}
