package io.inferencejobs.inference;

/** Reads the EXIF orientation tag of a JPEG from its APP1 segment, without decoding anything else. */
final class Exif {

  private Exif() {
  }

  /** The orientation (1..8), or 1 when the JPEG has none or the EXIF data is malformed. */
  static int jpegOrientation(byte[] jpeg) {
    try {
      int pos = 2; // after SOI
      while (pos + 4 <= jpeg.length) {
        if ((jpeg[pos] & 0xFF) != 0xFF) {
          return 1;
        }
        int marker = jpeg[pos + 1] & 0xFF;
        if (marker == 0xFF) { // fill byte
          pos++;
          continue;
        }
        if (marker == 0xDA || marker == 0xD9) { // start of scan / end of image: no EXIF before the pixels
          return 1;
        }
        int length = u16(jpeg, pos + 2, true);
        if (marker == 0xE1 && length >= 16 && startsWithExif(jpeg, pos + 4)) {
          return tiffOrientation(jpeg, pos + 10, pos + 2 + length);
        }
        pos += 2 + length;
      }
    } catch (ArrayIndexOutOfBoundsException malformed) {
      return 1;
    }
    return 1;
  }

  private static boolean startsWithExif(byte[] b, int p) {
    return b[p] == 'E' && b[p + 1] == 'x' && b[p + 2] == 'i' && b[p + 3] == 'f' && b[p + 4] == 0 && b[p + 5] == 0;
  }

  private static int tiffOrientation(byte[] b, int tiff, int end) {
    boolean bigEndian;
    if (b[tiff] == 'M' && b[tiff + 1] == 'M') {
      bigEndian = true;
    } else if (b[tiff] == 'I' && b[tiff + 1] == 'I') {
      bigEndian = false;
    } else {
      return 1;
    }
    int ifd = tiff + (int) u32(b, tiff + 4, bigEndian);
    if (ifd < tiff || ifd + 2 > end) {
      return 1;
    }
    int entries = u16(b, ifd, bigEndian);
    for (int i = 0; i < entries; i++) {
      int e = ifd + 2 + i * 12;
      if (e + 12 > end) {
        return 1;
      }
      if (u16(b, e, bigEndian) == 0x0112) {
        int value = u16(b, e + 8, bigEndian); // SHORT, left-justified in the value field
        return value >= 1 && value <= 8 ? value : 1;
      }
    }
    return 1;
  }

  private static int u16(byte[] b, int p, boolean bigEndian) {
    int a = b[p] & 0xFF;
    int c = b[p + 1] & 0xFF;
    return bigEndian ? (a << 8) | c : (c << 8) | a;
  }

  private static long u32(byte[] b, int p, boolean bigEndian) {
    long hi = u16(b, bigEndian ? p : p + 2, bigEndian);
    long lo = u16(b, bigEndian ? p + 2 : p, bigEndian);
    return (hi << 16) | lo;
  }
}
