package io.inferencejobs.inference;

import java.util.Locale;

/** Axis order of the image input tensor. */
public enum InputLayout {
  NCHW, NHWC;

  public static InputLayout parse(String text) {
    return switch (text.trim().toUpperCase(Locale.ROOT)) {
      case "NCHW", "CHW" -> NCHW;
      case "NHWC", "HWC" -> NHWC;
      default -> throw new IllegalArgumentException("layout must be NCHW or NHWC, got '" + text + "'");
    };
  }
}
