package io.inferencejobs.inference;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * JPEG decoding through libjpeg-turbo's TurboJPEG library (the system's {@code libturbojpeg.so.0}, Debian package
 * {@code libturbojpeg0}), called through JNA. Two things make it the fast path: SIMD Huffman, IDCT, upsampling and
 * colour conversion, and DCT-domain downscaling: a 4000x3000 photo meant for a 640x640 input is decoded straight to
 * 1000x750 by running a 2x2 inverse DCT per block instead of the full 8x8 one, so most of its pixels are never made.
 *
 * <p>Only the scale factors libjpeg-turbo accelerates are used (1, 1/2, 1/4, 1/8), and only down to the size the
 * model input is resized to, so the resize that follows never enlarges. Anything this path does not take (CMYK and
 * YCCK files, a fatal decoder error) returns null and the caller falls back to ImageIO, which gives its own error for
 * damaged data. One TurboJPEG handle per thread: handles are not thread-safe.
 */
final class TurboJpeg {

  private static final Logger LOG = LoggerFactory.getLogger(TurboJpeg.class);

  private static final int TJPF_RGB = 0;
  private static final int TJCS_CMYK = 3;
  private static final int TJCS_YCCK = 4;
  private static final int TJERR_WARNING = 0;
  /** Scale denominators tried, largest reduction first: the factors libjpeg-turbo has SIMD code for. */
  private static final int[] DENOMINATORS = {8, 4, 2};

  private static final String LOAD_ERROR = load();

  private static final ThreadLocal<Pointer> HANDLES = ThreadLocal.withInitial(() -> {
    Pointer handle = tjInitDecompress();
    if (handle == null) {
      throw new IllegalStateException("tjInitDecompress failed");
    }
    return handle;
  });

  private TurboJpeg() {
  }

  private static String load() {
    String[] names = {"turbojpeg", "libturbojpeg.so.0"};
    Throwable last = null;
    for (String name : names) {
      try {
        Native.register(TurboJpeg.class, NativeLibrary.getInstance(name));
        return null;
      } catch (UnsatisfiedLinkError | RuntimeException e) {
        last = e;
      }
    }
    String reason = last == null ? "not found" : String.valueOf(last.getMessage()).lines().findFirst().orElse("");
    LOG.info("libturbojpeg is not available ({}); JPEG images are decoded with ImageIO", reason);
    return reason;
  }

  /** True when the library loaded. */
  static boolean available() {
    return LOAD_ERROR == null;
  }

  /** Why the library did not load, or null. */
  static String loadError() {
    return LOAD_ERROR;
  }

  /** The JPEG's frame size and colour space, or null when TurboJPEG cannot read the header. */
  record Header(int width, int height, int colorspace) {

    boolean cmyk() {
      return colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
    }
  }

  static Header header(byte[] jpeg) {
    Pointer handle = HANDLES.get();
    int[] w = new int[1];
    int[] h = new int[1];
    int[] subsamp = new int[1];
    int[] cs = new int[1];
    if (tjDecompressHeader3(handle, jpeg, new NativeLong(jpeg.length), w, h, subsamp, cs) != 0) {
      discard(handle);
      return null;
    }
    // a stream of tables only says 0x0
    return w[0] > 0 && h[0] > 0 ? new Header(w[0], h[0], cs[0]) : null;
  }

  /**
   * The largest reduction 1/d (d in 8, 4, 2) that keeps both sides at least {@code minWidth x minHeight}, or 1.
   * A non-positive minimum asks for the full size.
   */
  static int denominator(int width, int height, int minWidth, int minHeight) {
    if (minWidth <= 0 || minHeight <= 0) {
      return 1;
    }
    for (int d : DENOMINATORS) {
      if (scaled(width, d) >= minWidth && scaled(height, d) >= minHeight) {
        return d;
      }
    }
    return 1;
  }

  /** libjpeg's size for a side scaled by 1/d: rounded up. */
  static int scaled(int side, int d) {
    return (side + d - 1) / d;
  }

  /** Outcome of a decode: the pixels, and the decoder's warning (or null); a warning can mean the data ended early. */
  record Decoded(Pixels pixels, String warning) {
  }

  /**
   * Decodes to packed RGB at 1/d of the full size; null when TurboJPEG fails outright (the caller falls back).
   * A warning comes back with the pixels: when it says the data ended early, the bottom of the image is grey.
   */
  static Decoded decode(byte[] jpeg, Header header, int d) {
    Pointer handle = HANDLES.get();
    int w = scaled(header.width(), d);
    int h = scaled(header.height(), d);
    int size = Math.multiplyExact(Math.multiplyExact(w, h), 3);
    // Native memory for the output, read back once: JNA copies a Java array both ways, which for a full-size
    // 12-megapixel image costs more than the decode.
    try (Memory buffer = new Memory(size)) {
      int rc = tjDecompress2(handle, jpeg, new NativeLong(jpeg.length), buffer, w, w * 3, h, TJPF_RGB, 0);
      String warning = null;
      if (rc != 0) {
        String message = String.valueOf(tjGetErrorStr2(handle)).trim();
        boolean fatal = tjGetErrorCode(handle) != TJERR_WARNING;
        discard(handle);
        if (fatal) {
          LOG.debug("TurboJPEG could not decode the image ({}); trying ImageIO", message);
          return null;
        }
        warning = message;
      }
      byte[] out = new byte[size];
      buffer.read(0, out, 0, size);
      return new Decoded(new Pixels(out, 0, w, h, 3, w * 3, 0, 1, 2), warning);
    }
  }

  /**
   * Drops this thread's handle after a failed call: a decoder stopped by an error keeps its state, and the next
   * header read on it can report a size of 0x0.
   */
  private static void discard(Pointer handle) {
    HANDLES.remove();
    tjDestroy(handle);
  }

  // TurboJPEG 2.x API (turbojpeg.h); unsigned long is a C long on every platform this runs on.
  private static native Pointer tjInitDecompress();

  private static native int tjDecompressHeader3(Pointer handle, byte[] jpegBuf, NativeLong jpegSize, int[] width,
                                                int[] height, int[] jpegSubsamp, int[] jpegColorspace);

  private static native int tjDecompress2(Pointer handle, byte[] jpegBuf, NativeLong jpegSize, Pointer dstBuf,
                                          int width, int pitch, int height, int pixelFormat, int flags);

  private static native int tjDestroy(Pointer handle);

  private static native String tjGetErrorStr2(Pointer handle);

  private static native int tjGetErrorCode(Pointer handle);
}
