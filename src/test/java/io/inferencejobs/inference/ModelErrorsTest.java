package io.inferencejobs.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelErrorsTest {

  @Test
  void aFileThatIsNotOnnxIsRefusedClearly(@TempDir Path dir) throws Exception {
    Path notOnnx = dir.resolve("model.onnx");
    Files.writeString(notOnnx, "this is not a model");

    assertThatThrownBy(() -> InferenceEngine.load(notOnnx, TestData.cpu()))
        .isInstanceOf(ModelException.class)
        .hasMessageContaining("not a valid ONNX model");
    assertThatThrownBy(() -> InferenceEngine.load(new byte[0], null, TestData.cpu()))
        .isInstanceOf(ModelException.class).hasMessageContaining("empty");
    assertThatThrownBy(() -> InferenceEngine.load(dir.resolve("missing.onnx"), TestData.cpu()))
        .isInstanceOf(ModelException.class).hasMessageContaining("not found");
  }

  @Test
  void anUnsupportedOutputLayoutNamesTheShapesAndTheLayouts() {
    byte[] identity = TinyOnnx.identity(8, 8);

    assertThatThrownBy(() -> InferenceEngine.load(identity, null, TestData.cpu()))
        .isInstanceOf(ModelException.class)
        .hasMessageContaining("y [1,3,8,8]")
        .hasMessageContaining("yolov8 [N,4+nc,A]")
        .hasMessageContaining("yolov5 [N,A,5+nc]")
        .hasMessageContaining("end2end [N,K,6]")
        .hasMessageContaining("classification [N,nc]");
  }

  @Test
  void aLayoutThatDoesNotFitTheShapeIsRefused() {
    ModelDescriptor wrong = ModelDescriptor.fromJson("{\"output\": {\"layout\": \"end2end\"}}");

    assertThatThrownBy(() -> InferenceEngine.load(TinyOnnx.channelMeans(4, 4), wrong, TestData.cpu()))
        .isInstanceOf(ModelException.class)
        .hasMessageContaining("[1,3]")
        .hasMessageContaining("does not fit the end2end layout");
  }

  @Test
  void aBadSidecarDescriptorIsNamed(@TempDir Path dir) throws Exception {
    Path model = dir.resolve("tiny.onnx");
    Files.write(model, TinyOnnx.channelMeans(4, 4));
    Files.writeString(dir.resolve("tiny.json"), "{\"input\": {\"layout\": \"CHWN\"}}");

    assertThatThrownBy(() -> InferenceEngine.load(model, TestData.cpu()))
        .isInstanceOf(ModelException.class)
        .hasMessageContaining("tiny.json")
        .hasMessageContaining("layout must be NCHW or NHWC");
  }

  @Test
  void aClassificationModelRunsEndToEnd(@TempDir Path dir) throws Exception {
    // The "model" averages each channel: a red image is class 0 with probability 1.
    ModelDescriptor names = ModelDescriptor.fromJson("{\"names\": {\"0\": \"red\", \"1\": \"green\", \"2\": \"blue\"}}");
    try (InferenceEngine engine = InferenceEngine.load(TinyOnnx.channelMeans(4, 4), names, TestData.cpu())) {
      assertThat(engine.descriptor().outputLayout()).isEqualTo(OutputLayout.CLASSIFICATION);
      assertThat(engine.descriptor().task()).isEqualTo("classify");
      assertThat(engine.batchSize()).isEqualTo(1);
      BufferedImage red = new BufferedImage(16, 16, BufferedImage.TYPE_3BYTE_BGR);
      Graphics2D g = red.createGraphics();
      g.setColor(Color.RED);
      g.fillRect(0, 0, 16, 16);
      g.dispose();
      ByteArrayOutputStream png = new ByteArrayOutputStream();
      ImageIO.write(red, "png", png);

      ImageResult r = engine.predict(List.of(png.toByteArray(), "text".getBytes(StandardCharsets.UTF_8)),
          TestData.defaultParams()).get(0);

      assertThat(r.detections()).hasSize(1);
      assertThat(r.detections().get(0).className()).isEqualTo("red");
      assertThat(r.detections().get(0).confidence()).isEqualTo(1f);
      assertThat(r.detections().get(0).bbox()).isEqualTo(new BBox(0, 0, 16, 16));
    }
  }
}
