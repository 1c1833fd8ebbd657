package io.inferencejobs.inference;

import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Boxes land where the predictions say, in upright pixels, and the rest of the picture is left alone. */
class AnnotatorTest {
  @Test
  void aBoxIsDrawnOnItsOutlineWithItsTagAndNothingElseChanges() throws Exception {
    BufferedImage grey = new BufferedImage(400, 300, BufferedImage.TYPE_3BYTE_BGR);
    Graphics2D g = grey.createGraphics();
    g.setColor(new Color(128, 128, 128));
    g.fillRect(0, 0, 400, 300);
    g.dispose();
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    ImageIO.write(grey, "png", png);

    Detection d = new Detection(0, "person", 0.87f, new BBox(100, 80, 300, 250));
    BufferedImage out = ImageIO.read(new ByteArrayInputStream(Annotator.annotate(png.toByteArray(), List.of(d),
        10_000_000)));
    assertThat(out.getWidth()).isEqualTo(400);
    assertThat(out.getHeight()).isEqualTo(300);
    // class 0's colour (a red) on the left edge, well below the tag
    Color edge = new Color(out.getRGB(100, 200));
    assertThat(edge.getRed()).isGreaterThan(200);
    assertThat(edge.getGreen()).isLessThan(110);
    // inside the box and far outside: still grey
    assertThat(grey(out, 200, 200)).isTrue();
    assertThat(grey(out, 20, 280)).isTrue();
    assertThat(grey(out, 380, 20)).isTrue();
    // the tag sits above the box: a filled band of the class colour
    Color tag = new Color(out.getRGB(102, 80 - 3));
    assertThat(tag.getRed()).isGreaterThan(200);
    assertThat(Annotator.labelOf(d)).isEqualTo("person 0.87");
  }

  @Test
  void boxesFollowTheExifOrientationAsTheEngineReadIt() throws Exception {
    // a portrait photo stored landscape with orientation 6: upright it is taller than wide
    byte[] rotated = Files.readAllBytes(TestData.IMAGES.resolve("dog.jpg"));
    byte[] withExif = ImageInputTest.withOrientation(rotated, 6);
    BufferedImage out = ImageIO.read(new ByteArrayInputStream(Annotator.annotate(withExif, List.of(), 10_000_000)));
    assertThat(out.getWidth()).isEqualTo(576);
    assertThat(out.getHeight()).isEqualTo(768);
  }

  @Test
  void bytesThatAreNoImageAreRefusedWithTheDecodersReason() {
    assertThatThrownBy(() -> Annotator.annotate(new byte[] {1, 2, 3, 4}, List.of(), 10_000_000))
        .isInstanceOf(ImageException.class).hasMessageContaining("not an image");
  }

  private static boolean grey(BufferedImage image, int x, int y) {
    Color c = new Color(image.getRGB(x, y));
    return Math.abs(c.getRed() - 128) < 6 && Math.abs(c.getGreen() - 128) < 6 && Math.abs(c.getBlue() - 128) < 6;
  }
}
