package io.inferencejobs.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PredictCommandTest {

  private static final String MODEL = "src/main/resources/models/centernet_coco80_yolov8.onnx";
  private static final String DOG = "src/test/resources/images/dog.jpg";
  private static final String GIRAFFE = "src/test/resources/images/giraffe.jpg";

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    return PredictCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  @Test
  void printsJsonWithOneObjectPerImage() throws Exception {
    int code = run("--model", MODEL, "--image", DOG, GIRAFFE, "--device", "cpu", "--json");

    assertThat(code).as(err.toString()).isZero();
    JsonNode json = new ObjectMapper().readTree(out.toString(StandardCharsets.UTF_8));
    assertThat(json).hasSize(2);
    JsonNode dog = json.get(0);
    assertThat(dog.get("image").asText()).isEqualTo(DOG);
    assertThat(dog.get("width").asInt()).isEqualTo(768);
    assertThat(dog.get("height").asInt()).isEqualTo(576);
    JsonNode first = dog.get("detections").get(0);
    assertThat(first.get("class_id").asInt()).isEqualTo(2);
    assertThat(first.get("class_name").asText()).isEqualTo("car");
    assertThat(first.get("confidence").asDouble()).isBetween(0.51, 0.55);
    assertThat(first.get("bbox").get("x1").asDouble()).isBetween(466.0, 472.0);
    assertThat(first.get("bbox").has("y2")).isTrue();
  }

  @Test
  void printsATableAndHonoursTheThresholds() {
    int code = run("--model", MODEL, "--image", DOG, "--device", "cpu", "--conf", "0.5", "--max-det", "1");

    assertThat(code).isZero();
    String table = out.toString(StandardCharsets.UTF_8);
    assertThat(table).contains("dog.jpg (768x576): 1 detection").contains("car");
    assertThat(table).doesNotContain("bicycle");
  }

  @Test
  void aBadImageGetsOneLineOnStderrAndANonZeroExitWhileOthersPrint(@TempDir Path dir) throws Exception {
    Path text = dir.resolve("notes.jpg");
    Files.writeString(text, "not a picture");

    int code = run("--model", MODEL, "--image", text.toString(), DOG, dir.resolve("missing.jpg").toString(),
        "--device", "cpu", "--json");

    assertThat(code).isEqualTo(1);
    String[] lines = err.toString(StandardCharsets.UTF_8).strip().split("\n");
    assertThat(lines).hasSize(2);
    assertThat(lines[0]).startsWith(text + ": ").contains("not an image");
    assertThat(lines[1]).contains("missing.jpg: file not found");
    JsonNode json = new ObjectMapper().readTree(out.toString(StandardCharsets.UTF_8));
    assertThat(json).hasSize(1);
    assertThat(json.get(0).get("image").asText()).isEqualTo(DOG);
  }

  @Test
  void aBadModelOrArgumentsExitWithTwo(@TempDir Path dir) throws Exception {
    Path notOnnx = dir.resolve("x.onnx");
    Files.writeString(notOnnx, "nope");

    assertThat(run("--model", notOnnx.toString(), "--image", DOG, "--device", "cpu")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("not a valid ONNX model");
    assertThat(run("--image", DOG)).isEqualTo(2);
    assertThat(run("--model", MODEL, "--image", DOG, "--conf", "2")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("confidenceThreshold must be within 0..1");
  }

  @Test
  void foldersAndGlobsNameTheirImagesAndSaveWritesThemDrawn(@TempDir Path dir) throws Exception {
    Path photos = Files.createDirectories(dir.resolve("photos"));
    Files.copy(Path.of(DOG), photos.resolve("b-dog.jpg"));
    Files.copy(Path.of(GIRAFFE), photos.resolve("a-giraffe.jpg"));
    Files.writeString(photos.resolve("notes.txt"), "not an image, and not named like one");
    Path nested = Files.createDirectories(photos.resolve("more"));
    Files.copy(Path.of(DOG), nested.resolve("dog.jpg"));

    // a folder: its image files, sorted, not its subfolders
    assertThat(run("--model", MODEL, "--image", photos.toString(), "--device", "cpu", "--json")).isZero();
    JsonNode json = new ObjectMapper().readTree(out.toString(StandardCharsets.UTF_8));
    assertThat(json).hasSize(2);
    assertThat(json.get(0).get("image").asText()).endsWith("a-giraffe.jpg");
    assertThat(json.get(1).get("image").asText()).endsWith("b-dog.jpg");

    // a quoted glob, "**" reaching into subfolders, and --save
    out.reset();
    Path save = dir.resolve("drawn");
    assertThat(run("--model", MODEL, "--image", photos + "/**/*dog.jpg", "--device", "cpu", "--json",
        "--save", save.toString())).as(err.toString()).isZero();
    json = new ObjectMapper().readTree(out.toString(StandardCharsets.UTF_8));
    assertThat(json).hasSize(2);
    try (var files = Files.list(save)) {
      assertThat(files.map(p -> p.getFileName().toString()).sorted().toList())
          .containsExactly("b-dog.jpg", "dog.jpg");
    }
    java.awt.image.BufferedImage drawn = javax.imageio.ImageIO.read(save.resolve("b-dog.jpg").toFile());
    java.awt.image.BufferedImage original = javax.imageio.ImageIO.read(new java.io.File(DOG));
    assertThat(drawn.getWidth()).isEqualTo(768);
    assertThat(drawn.getHeight()).isEqualTo(576);
    // the first box's left edge is drawn over: the pixels there are not the photo's
    JsonNode box = json.get(0).get("detections").get(0).get("bbox");
    int x = (int) Math.round(box.get("x1").asDouble());
    int y = (int) Math.round((box.get("y1").asDouble() + box.get("y2").asDouble()) / 2);
    assertThat(drawn.getRGB(x, y)).isNotEqualTo(original.getRGB(x, y));

    // a glob that matches nothing and a folder without images: a line each, exit 1
    err.reset();
    assertThat(run("--model", MODEL, "--image", photos + "/*.png", nested.resolve("none").toString(), DOG,
        "--device", "cpu")).isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("*.png: matches no file")
        .contains("none: file not found");
    err.reset();
    Path empty = Files.createDirectories(dir.resolve("empty"));
    assertThat(run("--model", MODEL, "--image", empty.toString(), "--device", "cpu")).isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("the folder has no image files");
    // --save onto a file is a bad argument
    assertThat(run("--model", MODEL, "--image", DOG, "--save", DOG)).isEqualTo(2);
  }
}
