package io.inferencejobs.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class ImageGeometryTest {

  @Test
  void letterboxOfALandscapeImageMatchesUltralytics() {
    // dog.jpg: 768x576 -> r = 640/768, resized 640x480, dh = 80
    ImageGeometry g = ImageGeometry.letterbox(768, 576, 640, 640);

    assertThat(g.resizedWidth()).isEqualTo(640);
    assertThat(g.resizedHeight()).isEqualTo(480);
    assertThat(g.padLeft()).isZero();
    assertThat(g.padTop()).isEqualTo(80);
    assertThat(g.gainX()).isCloseTo(640f / 768f, within(1e-6f));
  }

  @Test
  void letterboxRoundsOddPaddingLikeUltralytics() {
    // horses.jpg: 773x512 -> r = 0.82794, resized 640x424 (423.9 rounds up), dh = 108
    ImageGeometry g = ImageGeometry.letterbox(773, 512, 640, 640);
    assertThat(g.resizedHeight()).isEqualTo(424);
    assertThat(g.padTop()).isEqualTo(108);

    // 640x421 -> dh = 109.5: top = round(109.4) = 109, bottom gets 110
    ImageGeometry odd = ImageGeometry.letterbox(640, 421, 640, 640);
    assertThat(odd.resizedHeight()).isEqualTo(421);
    assertThat(odd.padTop()).isEqualTo(109);
    // portrait: padding on the left
    ImageGeometry portrait = ImageGeometry.letterbox(300, 600, 640, 640);
    assertThat(portrait.resizedWidth()).isEqualTo(320);
    assertThat(portrait.padLeft()).isEqualTo(160);
    assertThat(portrait.padTop()).isZero();
  }

  @Test
  void inverseUndoesTheForwardMapping() {
    ImageGeometry g = ImageGeometry.letterbox(773, 512, 640, 640);
    for (float x : new float[] {0, 1.5f, 400, 772}) {
      assertThat(g.toSourceX(g.toInputX(x))).isCloseTo(x, within(1e-3f));
    }
    for (float y : new float[] {0, 33.3f, 511}) {
      assertThat(g.toSourceY(g.toInputY(y))).isCloseTo(y, within(1e-3f));
    }
  }

  @Test
  void inverseClipsToTheImage() {
    ImageGeometry g = ImageGeometry.letterbox(768, 576, 640, 640);
    BBox b = g.toSource(-10, 10, 700, 630); // reaches into the padding and beyond
    assertThat(b.x1()).isZero();
    assertThat(b.y1()).isZero();
    assertThat(b.x2()).isEqualTo(768f);
    assertThat(b.y2()).isEqualTo(576f);
  }

  @Test
  void stretchScalesEachAxis() {
    ImageGeometry g = ImageGeometry.stretch(768, 576, 512, 512);
    assertThat(g.padLeft()).isZero();
    assertThat(g.toSourceX(256)).isCloseTo(384f, within(1e-3f));
    assertThat(g.toSourceY(256)).isCloseTo(288f, within(1e-3f));
  }
}
