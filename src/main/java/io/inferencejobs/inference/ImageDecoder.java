package io.inferencejobs.inference;

import io.inferencejobs.support.ImageFormat;

import com.twelvemonkeys.imageio.stream.ByteArrayImageInputStream;
import java.awt.Graphics2D;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentSampleModel;
import java.awt.image.DataBuffer;
import java.awt.image.DataBufferByte;
import java.awt.image.Raster;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;

/**
 * Decodes JPEG, PNG, BMP, WebP, GIF (first frame) and TIFF and hands out the pixels without copying. JPEG goes
 * through libjpeg-turbo ({@link TurboJpeg}) where the library is installed; everything else, and any JPEG it does not
 * take, through ImageIO (TwelveMonkeys readers where installed). The size is checked from the header before any
 * pixel is decoded.
 */
final class ImageDecoder {

  /** Smallest side accepted: a smaller image cannot hold anything a detector could find. */
  static final int MIN_SIDE = 4;

  private static final String FORMATS = "JPEG, PNG, BMP, WebP, GIF or TIFF";

  static {
    ImageIO.setUseCache(false); // decode in memory, never through temporary files
    ImageIO.scanForPlugins();
  }

  /** Readers are not thread-safe but costly to look up: one per format per thread, reset after each use. */
  private static final ThreadLocal<Map<String, ImageReader>> READERS = ThreadLocal.withInitial(HashMap::new);

  private ImageDecoder() {
  }

  /**
   * A decoded image, upright: its pixels, and the size of the image itself ({@code width x height}), which is larger
   * than the pixels' when a JPEG was reduced while decoding.
   */
  record Decoded(Pixels pixels, int width, int height) {
  }

  /** The decoded image at its full size, upright (EXIF orientation applied). */
  static Pixels decode(byte[] bytes, long maxPixels) throws ImageException {
    return decode(bytes, maxPixels, null, 0, 0, true).pixels();
  }

  /**
   * The decoded image, upright. With a resize mode and a model input size, a JPEG may be decoded at 1/2, 1/4 or 1/8
   * of its size (libjpeg-turbo's DCT scaling), never below the size it will be resized to for that input; without
   * one, or with {@code turbo} off, at full size.
   */
  static Decoded decode(byte[] bytes, long maxPixels, ResizeMode mode, int inputWidth, int inputHeight,
                        boolean turbo) throws ImageException {
    if (bytes == null || bytes.length == 0) {
      throw new ImageException(ImageException.EMPTY, "The image is empty (0 bytes).");
    }
    String format = sniff(bytes);
    if (format == null) {
      throw new ImageException(ImageException.UNSUPPORTED_FORMAT,
          "The data is not an image this service reads: it does not start like a " + FORMATS + " file.");
    }
    if (turbo && "JPEG".equals(format) && TurboJpeg.available()) {
      Decoded fast = turboDecode(bytes, maxPixels, mode, inputWidth, inputHeight);
      if (fast != null) {
        return fast;
      }
    }
    Pixels full = imageIoDecode(bytes, maxPixels, format);
    return new Decoded(full, full.width(), full.height());
  }

  /** Null when TurboJPEG does not take this file (CMYK, an unreadable header, a fatal error): ImageIO decides. */
  private static Decoded turboDecode(byte[] bytes, long maxPixels, ResizeMode mode, int inputWidth, int inputHeight)
      throws ImageException {
    TurboJpeg.Header header = TurboJpeg.header(bytes);
    if (header == null || header.cmyk()) {
      return null;
    }
    checkSize("JPEG", header.width(), header.height(), maxPixels);
    int orientation = Exif.jpegOrientation(bytes);
    boolean swap = orientation >= 5 && orientation <= 8;
    int d = 1;
    if (mode != null) {
      int uprightW = swap ? header.height() : header.width();
      int uprightH = swap ? header.width() : header.height();
      ImageGeometry g = ImageGeometry.of(mode, uprightW, uprightH, inputWidth, inputHeight);
      d = swap ? TurboJpeg.denominator(header.width(), header.height(), g.resizedHeight(), g.resizedWidth())
          : TurboJpeg.denominator(header.width(), header.height(), g.resizedWidth(), g.resizedHeight());
    }
    TurboJpeg.Decoded decoded = TurboJpeg.decode(bytes, header, d);
    if (decoded == null) {
      return null;
    }
    refuseIfTruncated("JPEG", decoded.warning() == null ? List.of() : List.of(decoded.warning()));
    Pixels upright = decoded.pixels().oriented(orientation);
    return new Decoded(upright, swap ? header.height() : header.width(), swap ? header.width() : header.height());
  }

  /** A decoder's warning that the data ended early (the rest of the image is filler) refuses the image. */
  private static void refuseIfTruncated(String format, List<String> warnings) throws ImageException {
    for (String w : warnings) {
      String lower = w.toLowerCase(Locale.ROOT);
      if (lower.contains("premature end") || lower.contains("truncated")) {
        throw new ImageException(ImageException.CORRUPT,
            "The " + format + " data ends early; the file is truncated (" + w.trim() + ").");
      }
    }
  }

  private static void checkSize(String format, int width, int height, long maxPixels) throws ImageException {
    if ((long) width * height > maxPixels) {
      throw new ImageException(ImageException.TOO_LARGE, "The image is " + width + "x" + height + " pixels ("
          + ((long) width * height) + "), more than the " + maxPixels + " pixels accepted.");
    }
    if (width < MIN_SIDE || height < MIN_SIDE) {
      throw new ImageException(ImageException.TOO_SMALL, "The image is " + width + "x" + height
          + " pixels; each side must be at least " + MIN_SIDE + " pixels.");
    }
  }

  private static Pixels imageIoDecode(byte[] bytes, long maxPixels, String format) throws ImageException {
    ImageReader reader = reader(format);
    List<String> warnings = new ArrayList<>(1);
    IIOReadWarningListener listener = (source, warning) -> warnings.add(warning);
    try (ByteArrayImageInputStream in = new ByteArrayImageInputStream(bytes)) {
      reader.setInput(in, true, true);
      reader.addIIOReadWarningListener(listener);
      int width;
      int height;
      try {
        width = reader.getWidth(0);
        height = reader.getHeight(0);
      } catch (IOException | RuntimeException e) {
        throw new ImageException(ImageException.CORRUPT,
            "The " + format + " header cannot be read; the file is damaged or truncated (" + reason(e) + ").", e);
      }
      checkSize(format, width, height, maxPixels);
      Pixels pixels;
      try {
        ImageReadParam param = reader.getDefaultReadParam();
        JpegHeader jpeg = "JPEG".equals(format) ? JpegHeader.read(bytes) : null;
        Pixels raw = null;
        if (jpeg != null && (jpeg.plainYcc() || jpeg.plainGray())) {
          // The raw components skip ImageIO's slow per-line colour conversion; YCbCr is converted after resizing.
          raw = rawPixels(reader.readRaster(0, param), jpeg.plainYcc());
        }
        if (raw == null) {
          if (jpeg != null) { // reading the raster consumed the stream: start again
            in.seek(0);
            reader.setInput(in, true, true);
          }
          raw = pixels(reader.read(0, param));
        }
        pixels = raw;
      } catch (IOException | RuntimeException e) {
        throw new ImageException(ImageException.CORRUPT,
            "The " + format + " data cannot be decoded; the file is damaged or truncated (" + reason(e) + ").", e);
      }
      refuseIfTruncated(format, warnings);
      return "JPEG".equals(format) ? pixels.oriented(Exif.jpegOrientation(bytes)) : pixels;
    } catch (IOException e) { // closing an in-memory stream
      throw new ImageException(ImageException.CORRUPT, "The image cannot be read (" + reason(e) + ").", e);
    } finally {
      reader.removeIIOReadWarningListener(listener);
      reader.reset();
    }
  }

  /** ImageIO's format name from the leading bytes, or null. */
  static String sniff(byte[] b) {
    return ImageFormat.sniff(b).map(Enum::name).orElse(null);
  }

  private static ImageReader reader(String format) throws ImageException {
    Map<String, ImageReader> cache = READERS.get();
    ImageReader reader = cache.get(format);
    if (reader == null) {
      Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName(format);
      if (!readers.hasNext()) {
        throw new ImageException(ImageException.UNSUPPORTED_FORMAT,
            "The image is " + format + ", which this build cannot decode.");
      }
      reader = readers.next();
      cache.put(format, reader);
    }
    return reader;
  }

  /**
   * The raster's bytes when they are 8-bit interleaved sRGB or gray (what JPEG, PNG and BMP decoders give);
   * anything else (CMYK left unconverted, 16-bit, indexed, packed ints) is first drawn into a 3-byte BGR image.
   */
  static Pixels pixels(BufferedImage image) {
    Raster raster = image.getRaster();
    ColorSpace cs = image.getColorModel().getColorSpace();
    DataBuffer buffer = raster.getDataBuffer();
    if (buffer instanceof DataBufferByte bytes && bytes.getNumBanks() == 1
        && raster.getSampleModel() instanceof ComponentSampleModel sm
        && !(raster.getSampleModel() instanceof java.awt.image.BandedSampleModel)
        && raster.getSampleModelTranslateX() == 0 && raster.getSampleModelTranslateY() == 0
        && allBits(image, 8)) {
      int[] offsets = sm.getBandOffsets();
      int bands = sm.getNumBands();
      int base = bytes.getOffset();
      if (cs.isCS_sRGB() && bands >= 3) {
        return new Pixels(bytes.getData(), base, image.getWidth(), image.getHeight(), sm.getPixelStride(),
            sm.getScanlineStride(), offsets[0], offsets[1], offsets[2]);
      }
      if (cs.getType() == ColorSpace.TYPE_GRAY && bands <= 2) {
        return new Pixels(bytes.getData(), base, image.getWidth(), image.getHeight(), sm.getPixelStride(),
            sm.getScanlineStride(), offsets[0], offsets[0], offsets[0]);
      }
    }
    BufferedImage bgr = new BufferedImage(image.getWidth(), image.getHeight(), BufferedImage.TYPE_3BYTE_BGR);
    Graphics2D g = bgr.createGraphics();
    try {
      g.drawImage(image, 0, 0, null);
    } finally {
      g.dispose();
    }
    byte[] data = ((DataBufferByte) bgr.getRaster().getDataBuffer()).getData();
    return new Pixels(data, 0, bgr.getWidth(), bgr.getHeight(), 3, bgr.getWidth() * 3, 2, 1, 0);
  }

  /** Byte-interleaved raw JPEG components (YCbCr or gray), or null when the raster is laid out otherwise. */
  private static Pixels rawPixels(Raster raster, boolean ycc) {
    int bands = ycc ? 3 : 1;
    if (raster.getDataBuffer() instanceof DataBufferByte bytes && bytes.getNumBanks() == 1
        && raster.getNumBands() == bands && raster.getSampleModel() instanceof ComponentSampleModel sm
        && !(sm instanceof java.awt.image.BandedSampleModel)
        && raster.getSampleModelTranslateX() == 0 && raster.getSampleModelTranslateY() == 0) {
      int[] o = sm.getBandOffsets();
      return ycc
          ? new Pixels(bytes.getData(), bytes.getOffset(), raster.getWidth(), raster.getHeight(), sm.getPixelStride(),
              sm.getScanlineStride(), o[0], o[1], o[2], true)
          : new Pixels(bytes.getData(), bytes.getOffset(), raster.getWidth(), raster.getHeight(), sm.getPixelStride(),
              sm.getScanlineStride(), o[0], o[0], o[0], false);
    }
    return null;
  }

  private static boolean allBits(BufferedImage image, int bits) {
    for (int size : image.getColorModel().getComponentSize()) {
      if (size != bits) {
        return false;
      }
    }
    return true;
  }

  private static String reason(Throwable e) {
    String m = e.getMessage();
    return m == null || m.isBlank() ? e.getClass().getSimpleName() : m.trim();
  }
}
