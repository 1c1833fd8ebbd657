package io.inferencejobs.exports;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A zip in the YOLO training layout: {@code labels/<image stem>.txt} per processed image, a line per prediction
 * ({@code class cx cy w h}, normalised to the image's size, six decimals; an image without predictions gets an empty
 * file, as YOLO expects of background images), {@code data.yaml} with the class names, and {@code sources.txt}
 * naming the image each label file belongs to. Streamed: each entry's bytes go out as it is written.
 */
final class YoloWriter implements FormatWriter {
  private final List<String> classNames;
  private final ZipPieces zip = new ZipPieces();
  private final Map<Integer, String> seen = new TreeMap<>();
  private final StringBuilder sources = new StringBuilder();

  private final ImageDrawer cpu;
  /** A pose model's keypoints per object, from the first prediction that has them (0: none seen). */
  private int keypoints;

  YoloWriter(List<String> classNames, ImageDrawer cpu) {
    this.classNames = classNames;
    this.cpu = cpu;
  }

  @Override
  public Buffer start() {
    return Buffer.buffer();
  }

  @Override
  public Buffer image(int pass, ExportedImage image) {
    if (skip(image)) {
      return Buffer.buffer();
    }
    return entry(image, labels(image));
  }

  /** Outlines of masks are traced from their RLE: CPU work, done on the drawer's pool, not on the event loop. */
  @Override
  public Future<Buffer> render(int pass, ExportedImage image) {
    if (skip(image)) {
      return Future.succeededFuture(Buffer.buffer());
    }
    JsonArray predictions = image.predictions();
    boolean masks = predictions != null && predictions.stream().anyMatch(p -> ((JsonObject) p).containsKey("mask"));
    return masks && cpu != null ? cpu.compute(() -> labels(image)).map(text -> entry(image, text))
        : Future.succeededFuture(image(pass, image));
  }

  private static boolean skip(ExportedImage image) {
    return image.failed() || image.width() == null || image.width() <= 0 || image.height() <= 0;
  }

  private Buffer entry(ExportedImage image, String labels) {
    String stem = zip.stem(image);
    sources.append("labels/").append(stem).append(".txt\t").append(image.s3Uri()).append('\t').append(image.name())
        .append('\n');
    zip.entry("labels/" + stem + ".txt", utf8(labels));
    return zip.drain();
  }

  /** One line per prediction: the box, or a mask's largest outline, and a pose's keypoints after the box. */
  private String labels(ExportedImage image) {
    StringBuilder labels = new StringBuilder();
    JsonArray predictions = image.predictions() == null ? new JsonArray() : image.predictions();
    double w = image.width();
    double h = image.height();
    for (int i = 0; i < predictions.size(); i++) {
      JsonObject p = predictions.getJsonObject(i);
      JsonObject b = p.getJsonObject("bbox");
      int classId = p.getInteger("class_id");
      synchronized (seen) {
        seen.putIfAbsent(classId, p.getString("class_name"));
      }
      double x1 = b.getDouble("x1");
      double y1 = b.getDouble("y1");
      double x2 = b.getDouble("x2");
      double y2 = b.getDouble("y2");
      int[] outline = FormatWriter.outline(p.getJsonObject("mask"));
      labels.append(classId);
      if (outline != null) {
        for (int k = 0; k < outline.length; k += 2) {
          labels.append(' ').append(f(outline[k] / w)).append(' ').append(f(outline[k + 1] / h));
        }
      } else {
        labels.append(' ').append(f((x1 + x2) / 2 / w)).append(' ').append(f((y1 + y2) / 2 / h))
            .append(' ').append(f((x2 - x1) / w)).append(' ').append(f((y2 - y1) / h));
        JsonArray kps = p.getJsonArray("keypoints");
        if (kps != null) {
          keypoints = kps.size();
          for (int k = 0; k < kps.size(); k++) {
            JsonObject kp = kps.getJsonObject(k);
            double score = kp.getDouble("score", 1.0);
            labels.append(' ').append(f(kp.getDouble("x") / w)).append(' ').append(f(kp.getDouble("y") / h))
                .append(' ').append(score >= 0.5 ? 2 : 1);
          }
        }
      }
      labels.append('\n');
    }
    return labels.toString();
  }

  @Override
  public Buffer end() {
    Map<Integer, String> names = FormatWriter.classes(classNames, seen);
    StringBuilder yaml = new StringBuilder("# labels of an inference-jobs job: put each image beside its label file as\n"
        + "# images/<stem>.<ext> (sources.txt names them), then train on this folder\n"
        + "path: .\ntrain: images\nval: images\nnames:\n");
    names.forEach((id, name) -> yaml.append("  ").append(id).append(": ").append(quote(name)).append('\n'));
    if (keypoints > 0) {
      yaml.append("kpt_shape: [").append(keypoints).append(", 3]\n");
      if (keypoints == io.inferencejobs.inference.Keypoints.COCO.size()) {
        // left and right swap when an image is flipped, as YOLO's augmentation needs
        yaml.append("flip_idx: [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]\n");
      }
    }
    zip.entry("data.yaml", utf8(yaml));
    zip.entry("sources.txt", utf8(sources));
    return zip.finish();
  }

  private static byte[] utf8(CharSequence text) {
    return text.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static String f(double v) {
    return String.format(Locale.ROOT, "%.6f", Math.max(0, Math.min(1, v)));
  }

  private static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
