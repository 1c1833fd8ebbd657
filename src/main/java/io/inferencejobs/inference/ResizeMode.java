package io.inferencejobs.inference;

import java.util.Locale;

/** How an image is fitted to the model input. */
public enum ResizeMode {
  /** Keep the aspect ratio, centre, pad the rest (Ultralytics geometry). */
  LETTERBOX,
  /** Scale each axis independently to fill the input. */
  STRETCH;

  public static ResizeMode parse(String text) {
    return switch (text.trim().toLowerCase(Locale.ROOT)) {
      case "letterbox", "pad" -> LETTERBOX;
      case "stretch", "resize" -> STRETCH;
      default -> throw new IllegalArgumentException("resize must be letterbox or stretch, got '" + text + "'");
    };
  }
}
