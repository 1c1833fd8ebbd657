package io.inferencejobs.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The libjpeg-turbo path against ImageIO on the same files. Skipped where libturbojpeg is not installed, unless
 * REQUIRE_TURBOJPEG=true (CI sets it), which makes its absence a failure.
 */
class TurboJpegTest {

  private static InferenceEngine turbo;
  private static InferenceEngine imageIo;
  /** dog.jpg enlarged to 4000x3000: a phone photo's size. */
  private static byte[] large;

  @BeforeAll
  static void load() throws Exception {
    if ("true".equalsIgnoreCase(System.getenv("REQUIRE_TURBOJPEG"))) {
      assertThat(TurboJpeg.available()).as("libturbojpeg loads (%s)", TurboJpeg.loadError()).isTrue();
    }
    assumeThat(TurboJpeg.available()).as("libturbojpeg is installed").isTrue();
    turbo = InferenceEngine.load(TestData.YOLOV8, TestData.cpu().withJpegDecoder("turbojpeg"));
    imageIo = InferenceEngine.load(TestData.YOLOV8, TestData.cpu().withJpegDecoder("imageio"));
    BufferedImage dog = ImageIO.read(new ByteArrayInputStream(TestData.image("dog.jpg")));
    BufferedImage big = new BufferedImage(4000, 3000, BufferedImage.TYPE_3BYTE_BGR);
    Graphics2D g = big.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
    g.drawImage(dog, 0, 0, 4000, 3000, null);
    g.dispose();
    large = ImageInputTest.encode(big, "jpeg");
  }

  @AfterAll
  static void close() {
    if (turbo != null) {
      turbo.close();
      imageIo.close();
    }
  }

  @Test
  void theEnginesSayWhichDecoderTheyUse() {
    assertThat(turbo.jpegDecoder()).isEqualTo("turbojpeg");
    assertThat(imageIo.jpegDecoder()).isEqualTo("imageio");
  }

  @Test
  void theReductionNeverGoesBelowTheSizeTheModelInputNeeds() {
    assertThat(TurboJpeg.denominator(4000, 3000, 640, 480)).isEqualTo(4); // 1000x750
    assertThat(TurboJpeg.denominator(5120, 3840, 640, 480)).isEqualTo(8); // 640x480 exactly
    assertThat(TurboJpeg.denominator(5112, 3834, 640, 480)).isEqualTo(4); // 1/8 would be 639 wide
    assertThat(TurboJpeg.denominator(1280, 960, 640, 480)).isEqualTo(2);
    assertThat(TurboJpeg.denominator(768, 576, 640, 480)).isEqualTo(1);
    assertThat(TurboJpeg.denominator(4000, 3000, 0, 0)).isEqualTo(1); // full size asked for
    assertThat(TurboJpeg.scaled(4001, 4)).isEqualTo(1001); // libjpeg rounds up
  }

  @Test
  void aPhoneSizedPhotoIsDecodedReducedButReportedAtItsOwnSize() throws Exception {
    ImageDecoder.Decoded d = ImageDecoder.decode(large, 100_000_000L, ResizeMode.LETTERBOX, 640, 640, true);
    assertThat(d.width()).isEqualTo(4000);
    assertThat(d.height()).isEqualTo(3000);
    assertThat(d.pixels().width()).isEqualTo(1000);
    assertThat(d.pixels().height()).isEqualTo(750);

    ImageDecoder.Decoded full = ImageDecoder.decode(large, 100_000_000L, null, 0, 0, true);
    assertThat(full.pixels().width()).isEqualTo(4000);
    assertThat(full.pixels().height()).isEqualTo(3000);
  }

  @Test
  void theReducedDecodeFindsWhatTheFullDecodeFindsInTheImagesFrame() throws Exception {
    byte[] rotated = ImageInputTest.withOrientation(ImageInputTest.encode(
        ImageInputTest.rotate(ImageIO.read(new ByteArrayInputStream(large)), false), "jpeg"), 6);
    for (byte[] photo : List.of(large, rotated)) {
      ImageResult fast = turbo.predict(List.of(photo), TestData.defaultParams()).get(0);
      ImageResult slow = imageIo.predict(List.of(photo), TestData.defaultParams()).get(0);
      assertThat(fast.width()).isEqualTo(4000);
      assertThat(fast.height()).isEqualTo(3000);
      assertSameFindings(fast.detections(), slow.detections());
      assertThat(fast.detections()).extracting(Detection::className).contains("dog", "bicycle");
    }
  }

  @Test
  void aPhotoAtTheModelsSizeDecodesAsImageIoDoes() throws Exception {
    byte[] dog = TestData.image("dog.jpg");
    PreparedImage fast = turbo.prepare(dog);
    PreparedImage slow = imageIo.prepare(dog);
    // two IDCTs and two chroma upsamplers: close, not equal
    assertThat(ImageInputTest.meanAbsDifference(fast.tensor, slow.tensor)).isLessThan(1f / 255);
    assertSameFindings(turbo.predict(List.of(dog), TestData.defaultParams()).get(0).detections(),
        imageIo.predict(List.of(dog), TestData.defaultParams()).get(0).detections());
  }

  @Test
  void damagedJpegsAreRefusedOrDecodedNeverCrashTheProcess() {
    // the decoder is native code: a file built to hurt it must end in an ImageException or pixels, not in a crash
    byte[] dog = TestData.image("dog.jpg");
    java.util.SplittableRandom random = new java.util.SplittableRandom(7);
    int refused = 0;
    for (int i = 0; i < 400; i++) {
      byte[] bad = java.util.Arrays.copyOf(dog, i % 4 == 0 ? random.nextInt(4, dog.length) : dog.length);
      int flips = 1 + random.nextInt(16);
      for (int f = 0; f < flips; f++) {
        // mostly in the headers and tables (first 1 KB), where a wrong length or size does the most harm
        int at = random.nextInt(4) == 0 ? random.nextInt(bad.length) : random.nextInt(Math.min(1024, bad.length));
        bad[at] = (byte) random.nextInt(256);
      }
      try {
        ImageDecoder.Decoded d = ImageDecoder.decode(bad, 100_000_000L, ResizeMode.LETTERBOX, 640, 640, true);
        assertThat(d.pixels().width()).isPositive();
        assertThat(d.pixels().height()).isPositive();
      } catch (ImageException e) {
        refused++;
        assertThat(e.getMessage()).isNotBlank();
      }
    }
    assertThat(refused).as("damaged files refused").isPositive();
  }

  /** Every confident finding of one has a match of the same class, close score and overlapping box in the other. */
  private static void assertSameFindings(List<Detection> a, List<Detection> b) {
    List<Detection> confidentA = a.stream().filter(d -> d.confidence() >= 0.5f).toList();
    assertThat(confidentA).isNotEmpty();
    List<Detection> remaining = new ArrayList<>(b);
    for (Detection x : confidentA) {
      Detection match = remaining.stream().filter(y -> y.className().equals(x.className())
          && Math.abs(y.confidence() - x.confidence()) <= 0.05f && iou(x.bbox(), y.bbox()) >= 0.9f)
          .findFirst().orElse(null);
      assertThat(match).as("match for %s among %s", x, b).isNotNull();
      remaining.remove(match);
    }
  }

  private static float iou(BBox a, BBox b) {
    float iw = Math.max(0, Math.min(a.x2(), b.x2()) - Math.max(a.x1(), b.x1()));
    float ih = Math.max(0, Math.min(a.y2(), b.y2()) - Math.max(a.y1(), b.y1()));
    float inter = iw * ih;
    float union = (a.x2() - a.x1()) * (a.y2() - a.y1()) + (b.x2() - b.x1()) * (b.y2() - b.y1()) - inter;
    return union <= 0 ? 0 : inter / union;
  }
}
