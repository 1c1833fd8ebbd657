package io.inferencejobs.api;

import io.inferencejobs.support.ImageFormat;

import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Optional;

/**
 * Recognises the image formats the engine decodes from their bytes, never from names or declared types: the first
 * bytes name the format, and the format's reader must then accept the header (uploads) or decode the image (what the
 * images endpoint serves). A file that only starts like an image (a model behind a PNG signature) is no image.
 */
public final class ImageTypes {
  static {
    ImageIO.setUseCache(false); // no temporary files
  }
  public record ImageType(String extension, String contentType) {
  }

  public static final int SNIFF_BYTES = ImageFormat.SIGNATURE_BYTES;
  /** The formats uploads and jobs take (the engine reads a few more, but these are what users send). */
  private static final java.util.Set<ImageFormat> ACCEPTED = java.util.EnumSet.of(ImageFormat.JPEG, ImageFormat.PNG,
      ImageFormat.WEBP, ImageFormat.BMP);

  private ImageTypes() {
  }

  public static Optional<ImageType> sniff(byte[] head) {
    return ImageFormat.sniff(head).filter(ACCEPTED::contains)
        .map(f -> new ImageType(f.extension(), f.contentType()));
  }

  /** The type of the image in {@code file}, if its first bytes name one and that format's reader reads its header. */
  static Optional<ImageType> checkHeader(Path file) throws IOException {
    byte[] head;
    try (InputStream in = Files.newInputStream(file)) {
      head = in.readNBytes(SNIFF_BYTES);
    }
    Optional<ImageType> type = sniff(head);
    if (type.isEmpty()) {
      return type;
    }
    try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
      return readable(in, type.get(), false) ? type : Optional.empty();
    }
  }

  /** Whether {@code bytes} decode as an image of a format the engine reads (subsampled: every pixel row is parsed). */
  static Optional<ImageType> decodes(byte[] bytes) {
    Optional<ImageType> type = sniff(bytes);
    if (type.isEmpty()) {
      return type;
    }
    try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
      return readable(in, type.get(), true) ? type : Optional.empty();
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** The first reader ImageIO finds for the stream (by its magic) must read the header, and decode when asked. */
  private static boolean readable(ImageInputStream in, ImageType type, boolean decode) {
    if (in == null) {
      return false;
    }
    Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
    if (readers.hasNext()) {
      ImageReader reader = readers.next();
      try {
        in.seek(0);
        reader.setInput(in, true, true);
        if (reader.getWidth(0) < 1 || reader.getHeight(0) < 1) {
          return false;
        }
        if (decode) {
          ImageReadParam param = reader.getDefaultReadParam();
          param.setSourceSubsampling(4, 4, 0, 0);
          return reader.read(0, param) != null;
        }
        return true;
      } catch (IOException | RuntimeException e) {
        return false;
      } finally {
        reader.dispose();
      }
    }
    return false;
  }

  /** Whether an object key names an image the engine can read (used when listing an S3 prefix). */
  public static boolean hasImageExtension(String key) {
    String k = key.toLowerCase(java.util.Locale.ROOT);
    return k.endsWith(".jpg") || k.endsWith(".jpeg") || k.endsWith(".png") || k.endsWith(".bmp")
        || k.endsWith(".webp");
  }
}
