package io.inferencejobs.api;

import java.util.Optional;

/** Recognises the image formats the engine decodes from their first bytes, never from names or declared types. */
public final class ImageTypes {
  public record ImageType(String extension, String contentType) {
  }

  public static final int SNIFF_BYTES = 12;

  private ImageTypes() {
  }

  public static Optional<ImageType> sniff(byte[] head) {
    if (head.length >= 3 && (head[0] & 0xff) == 0xFF && (head[1] & 0xff) == 0xD8 && (head[2] & 0xff) == 0xFF) {
      return Optional.of(new ImageType("jpg", "image/jpeg"));
    }
    if (head.length >= 8 && (head[0] & 0xff) == 0x89 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G'
        && head[4] == 0x0D && head[5] == 0x0A && head[6] == 0x1A && head[7] == 0x0A) {
      return Optional.of(new ImageType("png", "image/png"));
    }
    if (head.length >= 12 && head[0] == 'R' && head[1] == 'I' && head[2] == 'F' && head[3] == 'F'
        && head[8] == 'W' && head[9] == 'E' && head[10] == 'B' && head[11] == 'P') {
      return Optional.of(new ImageType("webp", "image/webp"));
    }
    if (head.length >= 2 && head[0] == 'B' && head[1] == 'M') {
      return Optional.of(new ImageType("bmp", "image/bmp"));
    }
    return Optional.empty();
  }

  /** Whether an object key names an image the engine can read (used when listing an S3 prefix). */
  public static boolean hasImageExtension(String key) {
    String k = key.toLowerCase(java.util.Locale.ROOT);
    return k.endsWith(".jpg") || k.endsWith(".jpeg") || k.endsWith(".png") || k.endsWith(".bmp")
        || k.endsWith(".webp");
  }
}
