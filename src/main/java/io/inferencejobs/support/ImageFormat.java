package io.inferencejobs.support;

import java.util.Optional;

/**
 * The image formats the service knows, recognised from their first bytes (never from names or declared types): the
 * one place the signatures live, for the engine's decoder and for the API's checks alike. Plain Java.
 */
public enum ImageFormat {
  JPEG("jpg", "image/jpeg"),
  PNG("png", "image/png"),
  WEBP("webp", "image/webp"),
  BMP("bmp", "image/bmp"),
  GIF("gif", "image/gif"),
  TIFF("tif", "image/tiff");

  /** Enough leading bytes to tell every format apart. */
  public static final int SIGNATURE_BYTES = 14;

  private final String extension;
  private final String contentType;

  ImageFormat(String extension, String contentType) {
    this.extension = extension;
    this.contentType = contentType;
  }

  public String extension() {
    return extension;
  }

  public String contentType() {
    return contentType;
  }

  /** Whether an object key names an image the service takes (used when listing an S3 prefix for a job). */
  public static boolean namedLikeAnImage(String key) {
    String k = key.toLowerCase(java.util.Locale.ROOT);
    return k.endsWith(".jpg") || k.endsWith(".jpeg") || k.endsWith(".png") || k.endsWith(".bmp")
        || k.endsWith(".webp");
  }

  /** The format whose signature {@code b} starts with. */
  public static Optional<ImageFormat> sniff(byte[] b) {
    if (b.length >= 3 && (b[0] & 0xFF) == 0xFF && (b[1] & 0xFF) == 0xD8 && (b[2] & 0xFF) == 0xFF) {
      return Optional.of(JPEG);
    }
    if (b.length >= 8 && (b[0] & 0xFF) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G' && b[4] == 0x0D
        && b[5] == 0x0A && b[6] == 0x1A && b[7] == 0x0A) {
      return Optional.of(PNG);
    }
    if (b.length >= 12 && b[0] == 'R' && b[1] == 'I' && b[2] == 'F' && b[3] == 'F'
        && b[8] == 'W' && b[9] == 'E' && b[10] == 'B' && b[11] == 'P') {
      return Optional.of(WEBP);
    }
    if (b.length >= 6 && b[0] == 'G' && b[1] == 'I' && b[2] == 'F' && b[3] == '8') {
      return Optional.of(GIF);
    }
    if (b.length >= 4 && ((b[0] == 'I' && b[1] == 'I' && b[2] == 42 && b[3] == 0)
        || (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && b[3] == 42))) {
      return Optional.of(TIFF);
    }
    if (b.length >= 14 && b[0] == 'B' && b[1] == 'M') {
      return Optional.of(BMP);
    }
    return Optional.empty();
  }
}
