package io.inferencejobs.inference;

/**
 * The few JPEG header facts that decide whether the raw decoded components can be used as they are:
 * component count and ids, JFIF and Adobe markers, and whether an ICC profile is embedded.
 */
record JpegHeader(int components, boolean jfif, int adobeTransform, boolean icc, int[] componentIds) {

  /**
   * Plain YCbCr: the common camera and web JPEG. An embedded ICC profile is ignored, as OpenCV (and so Ultralytics)
   * ignores it: the model was trained on pixels read that way.
   */
  boolean plainYcc() {
    if (components != 3) {
      return false;
    }
    if (adobeTransform >= 0) {
      return adobeTransform == 1;
    }
    return jfif || (componentIds[0] == 1 && componentIds[1] == 2 && componentIds[2] == 3);
  }

  boolean plainGray() {
    return components == 1;
  }

  /** Reads markers up to the frame header; null when the data is not a well-formed JPEG header. */
  static JpegHeader read(byte[] b) {
    boolean jfif = false;
    boolean icc = false;
    int adobe = -1;
    int pos = 2;
    try {
      while (pos + 4 <= b.length) {
        if ((b[pos] & 0xFF) != 0xFF) {
          return null;
        }
        int marker = b[pos + 1] & 0xFF;
        if (marker == 0xFF) {
          pos++;
          continue;
        }
        int length = ((b[pos + 2] & 0xFF) << 8) | (b[pos + 3] & 0xFF);
        int data = pos + 4;
        if (marker == 0xE0 && length >= 7 && b[data] == 'J' && b[data + 1] == 'F' && b[data + 2] == 'I'
            && b[data + 3] == 'F' && b[data + 4] == 0) {
          jfif = true;
        } else if (marker == 0xE2 && length >= 14 && new String(b, data, 11, java.nio.charset.StandardCharsets.US_ASCII)
            .equals("ICC_PROFILE")) {
          icc = true;
        } else if (marker == 0xEE && length >= 14 && b[data] == 'A' && b[data + 1] == 'd' && b[data + 2] == 'o'
            && b[data + 3] == 'b' && b[data + 4] == 'e') {
          adobe = b[data + 11] & 0xFF;
        } else if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
          int n = b[data + 5] & 0xFF;
          int[] ids = new int[n];
          for (int i = 0; i < n; i++) {
            ids[i] = b[data + 6 + 3 * i] & 0xFF;
          }
          return new JpegHeader(n, jfif, adobe, icc, ids);
        } else if (marker == 0xDA || marker == 0xD9) {
          return null;
        }
        pos += 2 + length;
      }
    } catch (ArrayIndexOutOfBoundsException e) {
      return null;
    }
    return null;
  }
}
