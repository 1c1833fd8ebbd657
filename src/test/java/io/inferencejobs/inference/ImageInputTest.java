package io.inferencejobs.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ImageInputTest {

  private static InferenceEngine engine;

  @BeforeAll
  static void load() throws Exception {
    engine = InferenceEngine.load(TestData.YOLOV8, TestData.cpu());
  }

  @AfterAll
  static void close() {
    engine.close();
  }

  @Test
  void zeroBytesIsEmpty() {
    assertRefused(new byte[0], ImageException.EMPTY, "empty");
  }

  @Test
  void aTextFileNamedJpgIsNotAnImage() {
    byte[] text = "name,score\ndog,0.9\n".getBytes(StandardCharsets.UTF_8);
    assertRefused(text, ImageException.UNSUPPORTED_FORMAT, "does not start like a JPEG, PNG");
  }

  @Test
  void aTruncatedJpegIsCorrupt() {
    byte[] dog = TestData.image("dog.jpg");
    assertRefused(Arrays.copyOf(dog, dog.length / 2), ImageException.CORRUPT, "truncated");
    assertRefused(Arrays.copyOf(dog, 300), ImageException.CORRUPT, "truncated");
    assertRefused(Arrays.copyOf(dog, 3), ImageException.CORRUPT, "JPEG");
  }

  @Test
  void aOneByOneImageIsTooSmall() throws Exception {
    assertRefused(encode(new BufferedImage(1, 1, BufferedImage.TYPE_3BYTE_BGR), "png"), ImageException.TOO_SMALL,
        "1x1");
  }

  @Test
  void aPngHeaderClaiming30000SquaredIsRefusedBeforeDecoding() {
    ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(30000).putInt(30000).put((byte) 8).put((byte) 2)
        .put((byte) 0).put((byte) 0).put((byte) 0);
    byte[] png = concat(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'},
        chunk("IHDR", ihdr.array()), chunk("IDAT", new byte[] {0x78, (byte) 0x9C, 0x03, 0x00}),
        chunk("IEND", new byte[0]));

    assertRefused(png, ImageException.TOO_LARGE, "30000x30000");
  }

  @Test
  void aJpegHeaderClaiming30000SquaredIsRefusedBeforeDecoding() {
    byte[] sof = {(byte) 0xFF, (byte) 0xC0, 0, 17, 8, 0x75, 0x30, 0x75, 0x30, 3,
        1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1};
    byte[] jpeg = concat(new byte[] {(byte) 0xFF, (byte) 0xD8}, sof, new byte[] {(byte) 0xFF, (byte) 0xD9});

    assertRefused(jpeg, ImageException.TOO_LARGE, "30000x30000");
  }

  @Test
  void maxPixelsIsConfigurable() throws Exception {
    try (InferenceEngine small = InferenceEngine.load(TestData.YOLOV8, TestData.cpu().withMaxPixels(100_000))) {
      assertThatThrownBy(() -> small.prepare(TestData.image("dog.jpg")))
          .isInstanceOf(ImageException.class)
          .hasMessageContaining("768x576")
          .extracting(e -> ((ImageException) e).code()).isEqualTo(ImageException.TOO_LARGE);
    }
  }

  @Test
  void aGrayscaleJpegFeedsTheSameValueToEachChannel() throws Exception {
    BufferedImage dog = ImageIO.read(new ByteArrayInputStream(TestData.image("dog.jpg")));
    BufferedImage gray = new BufferedImage(dog.getWidth(), dog.getHeight(), BufferedImage.TYPE_BYTE_GRAY);
    Graphics2D g = gray.createGraphics();
    g.drawImage(dog, 0, 0, null);
    g.dispose();

    PreparedImage p = engine.prepare(encode(gray, "jpeg"));

    assertThat(p.width()).isEqualTo(768);
    assertThat(p.height()).isEqualTo(576);
    int plane = 640 * 640;
    int centre = 320 * 640 + 320;
    assertThat(p.tensor[centre]).isEqualTo(p.tensor[plane + centre]).isEqualTo(p.tensor[2 * plane + centre]);
    ImageResult r = engine.infer(List.of(p), TestData.defaultParams()).get(0);
    assertThat(r.detections()).extracting(Detection::className).contains("dog");
  }

  @Test
  void aCmykJpegIsConvertedToRgb() throws Exception {
    BufferedImage dog = ImageIO.read(new ByteArrayInputStream(TestData.image("dog.jpg")));
    byte[] cmyk = cmykJpeg(dog);

    PreparedImage fromCmyk = engine.prepare(cmyk);
    PreparedImage fromRgb = engine.prepare(TestData.image("dog.jpg"));

    assertThat(fromCmyk.width()).isEqualTo(768);
    assertThat(fromCmyk.height()).isEqualTo(576);
    // a naive inversion, no colour profile: the pixels come back close, not equal
    assertThat(meanAbsDifference(fromCmyk.tensor, fromRgb.tensor)).isLessThan(0.05);
    ImageResult r = engine.infer(List.of(fromCmyk), TestData.defaultParams()).get(0);
    assertThat(r.detections()).extracting(Detection::className).contains("dog", "bicycle");
  }

  @Test
  void exifOrientationIsAppliedAndBoxesAreInTheRotatedFrame() throws Exception {
    BufferedImage dog = ImageIO.read(new ByteArrayInputStream(TestData.image("dog.jpg")));
    byte[] upright = encode(dog, "jpeg");
    // Stored turned a quarter left; orientation 6 says "turn right to display".
    byte[] six = withOrientation(encode(rotate(dog, false), "jpeg"), 6);
    // Stored turned a quarter right; orientation 8 says "turn left to display".
    byte[] eight = withOrientation(encode(rotate(dog, true), "jpeg"), 8);

    List<ImageResult> results = engine.predict(List.of(upright, six, eight), TestData.defaultParams());

    ImageResult reference = results.get(0);
    assertThat(reference.detections()).isNotEmpty();
    for (ImageResult rotated : results.subList(1, 3)) {
      assertThat(rotated.width()).isEqualTo(768);
      assertThat(rotated.height()).isEqualTo(576);
      assertThat(rotated.detections()).hasSameSizeAs(reference.detections());
      List<Detection> remaining = new java.util.ArrayList<>(rotated.detections());
      for (Detection a : reference.detections()) { // near-equal scores may swap places
        Detection match = remaining.stream().filter(b -> b.className().equals(a.className())
            && Math.abs(b.confidence() - a.confidence()) <= 0.02f
            && Math.abs(b.bbox().x1() - a.bbox().x1()) <= 3f && Math.abs(b.bbox().y1() - a.bbox().y1()) <= 3f
            && Math.abs(b.bbox().x2() - a.bbox().x2()) <= 3f && Math.abs(b.bbox().y2() - a.bbox().y2()) <= 3f)
            .findFirst().orElse(null);
        assertThat(match).as("match for %s among %s", a, rotated.detections()).isNotNull();
        remaining.remove(match);
      }
    }
  }

  @Test
  void pngWithAlphaAndBmpAreRead() throws Exception {
    BufferedImage dog = ImageIO.read(new ByteArrayInputStream(TestData.image("dog.jpg")));
    BufferedImage argb = new BufferedImage(dog.getWidth(), dog.getHeight(), BufferedImage.TYPE_4BYTE_ABGR);
    Graphics2D g = argb.createGraphics();
    g.drawImage(dog, 0, 0, null);
    g.dispose();

    PreparedImage png = engine.prepare(encode(argb, "png"));
    PreparedImage bmp = engine.prepare(encode(dog, "bmp"));
    PreparedImage reference = engine.prepare(encode(dog, "png"));

    assertThat(png.tensor).isEqualTo(reference.tensor);
    assertThat(bmp.tensor).isEqualTo(reference.tensor);
  }

  @Test
  void theFastJpegPathMatchesDecodingToRgbFirst() throws Exception {
    BufferedImage dog = ImageIO.read(new ByteArrayInputStream(TestData.image("dog.jpg")));
    byte[] jpeg = encode(dog, "jpeg");
    BufferedImage rgb = ImageIO.read(new ByteArrayInputStream(jpeg));

    PreparedImage fast = engine.prepare(jpeg); // raw YCbCr, converted after resizing
    PreparedImage slow = engine.prepare(encode(rgb, "png")); // RGB decoded by ImageIO, then resized

    // Equal up to rounding, except where a colour clips at 0 or 255 (clipping happens after interpolation here)
    int off = 0;
    for (int i = 0; i < fast.tensor.length; i++) {
      if (Math.abs(fast.tensor[i] - slow.tensor[i]) > 2.5 / 255) {
        off++;
      }
    }
    assertThat((double) off / fast.tensor.length).isLessThan(0.005);
    assertThat(meanAbsDifference(fast.tensor, slow.tensor)).isLessThan(0.3 / 255);
  }

  @Test
  void predictReportsABadImageAndGoesOn() throws Exception {
    List<ImageResult> results = engine.predict(
        List.of(new byte[0], TestData.image("giraffe.jpg"), "x".getBytes(StandardCharsets.UTF_8)),
        TestData.defaultParams());

    assertThat(results.get(0).error()).contains("empty");
    assertThat(results.get(1).error()).isNull();
    assertThat(results.get(1).detections()).extracting(Detection::className).contains("zebra", "giraffe");
    assertThat(results.get(2).error()).contains("not an image");
  }

  @Test
  void prepareRunsOnSeveralThreadsWhileInferRuns() throws Exception {
    byte[] dog = TestData.image("dog.jpg");
    List<Detection> expected = engine.predict(List.of(dog), TestData.defaultParams()).get(0).detections();
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
    try {
      List<java.util.concurrent.Future<List<ImageResult>>> futures = new java.util.ArrayList<>();
      for (int i = 0; i < 8; i++) {
        futures.add(pool.submit(() -> engine.infer(List.of(engine.prepare(dog)), TestData.defaultParams())));
      }
      for (var f : futures) {
        assertThat(f.get(60, java.util.concurrent.TimeUnit.SECONDS).get(0).detections()).isEqualTo(expected);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  private static void assertRefused(byte[] image, String code, String messagePart) {
    assertThatThrownBy(() -> engine.prepare(image))
        .isInstanceOf(ImageException.class)
        .hasMessageContaining(messagePart)
        .extracting(e -> ((ImageException) e).code()).isEqualTo(code);
  }

  static byte[] encode(BufferedImage image, String format) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    if (format.equals("jpeg")) {
      ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
      ImageWriteParam param = writer.getDefaultWriteParam();
      param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
      param.setCompressionQuality(0.95f);
      try (MemoryCacheImageOutputStream stream = new MemoryCacheImageOutputStream(out)) {
        writer.setOutput(stream);
        writer.write(null, new IIOImage(image, null, null), param);
      }
      writer.dispose();
    } else {
      assertThat(ImageIO.write(image, format, out)).as("writer for " + format).isTrue();
    }
    return out.toByteArray();
  }

  /** A 4-channel Adobe JPEG holding naive CMYK (C = 255 - R, ..., K = 0), as print workflows produce. */
  private static byte[] cmykJpeg(BufferedImage rgb) throws Exception {
    int w = rgb.getWidth();
    int h = rgb.getHeight();
    WritableRaster raster = Raster.createInterleavedRaster(java.awt.image.DataBuffer.TYPE_BYTE, w, h, 4, null);
    byte[] data = ((DataBufferByte) raster.getDataBuffer()).getData();
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int p = rgb.getRGB(x, y);
        int i = (y * w + x) * 4;
        // Adobe CMYK JPEGs store the channels inverted
        data[i] = (byte) ((p >> 16) & 0xFF);
        data[i + 1] = (byte) ((p >> 8) & 0xFF);
        data[i + 2] = (byte) (p & 0xFF);
        data[i + 3] = (byte) 0xFF;
      }
    }
    ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (MemoryCacheImageOutputStream stream = new MemoryCacheImageOutputStream(out)) {
      writer.setOutput(stream);
      writer.write(null, new IIOImage(raster, null, null), null);
    }
    writer.dispose();
    byte[] jpeg = out.toByteArray();
    // APP14 "Adobe", transform 0: the four channels are CMYK, not YCCK
    byte[] adobe = {(byte) 0xFF, (byte) 0xEE, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0};
    return concat(Arrays.copyOf(jpeg, 2), adobe, Arrays.copyOfRange(jpeg, 2, jpeg.length));
  }

  static BufferedImage rotate(BufferedImage src, boolean clockwise) {
    int w = src.getWidth();
    int h = src.getHeight();
    BufferedImage out = new BufferedImage(h, w, BufferedImage.TYPE_3BYTE_BGR);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int rgb = src.getRGB(x, y);
        if (clockwise) {
          out.setRGB(h - 1 - y, x, rgb);
        } else {
          out.setRGB(y, w - 1 - x, rgb);
        }
      }
    }
    return out;
  }

  /** Inserts an APP1 Exif segment (big-endian TIFF, one IFD0 entry: Orientation) right after SOI. */
  static byte[] withOrientation(byte[] jpeg, int orientation) {
    ByteBuffer tiff = ByteBuffer.allocate(26);
    tiff.put((byte) 'M').put((byte) 'M').putShort((short) 42).putInt(8) // header, IFD0 at 8
        .putShort((short) 1) // one entry
        .putShort((short) 0x0112).putShort((short) 3).putInt(1).putShort((short) orientation).putShort((short) 0)
        .putInt(0); // no next IFD
    byte[] body = concat("Exif".getBytes(StandardCharsets.US_ASCII), new byte[2], tiff.array());
    byte[] app1 = concat(new byte[] {(byte) 0xFF, (byte) 0xE1, (byte) ((body.length + 2) >> 8),
        (byte) (body.length + 2)}, body);
    return concat(Arrays.copyOf(jpeg, 2), app1, Arrays.copyOfRange(jpeg, 2, jpeg.length));
  }

  private static byte[] chunk(String type, byte[] data) {
    byte[] t = type.getBytes(StandardCharsets.US_ASCII);
    CRC32 crc = new CRC32();
    crc.update(t);
    crc.update(data);
    return concat(ByteBuffer.allocate(4).putInt(data.length).array(), t, data,
        ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
  }

  static double meanAbsDifference(float[] a, float[] b) {
    double sum = 0;
    for (int i = 0; i < a.length; i++) {
      sum += Math.abs(a[i] - b[i]);
    }
    return sum / a.length;
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }
}
