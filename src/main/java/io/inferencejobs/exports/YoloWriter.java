package io.inferencejobs.exports;

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

  YoloWriter(List<String> classNames) {
    this.classNames = classNames;
  }

  @Override
  public Buffer start() {
    return Buffer.buffer();
  }

  @Override
  public Buffer image(int pass, ExportedImage image) {
    if (image.failed() || image.width() == null || image.width() <= 0 || image.height() <= 0) {
      return Buffer.buffer();
    }
    String stem = zip.stem(image);
    StringBuilder labels = new StringBuilder();
    JsonArray predictions = image.predictions() == null ? new JsonArray() : image.predictions();
    double w = image.width();
    double h = image.height();
    for (int i = 0; i < predictions.size(); i++) {
      JsonObject p = predictions.getJsonObject(i);
      JsonObject b = p.getJsonObject("bbox");
      int classId = p.getInteger("class_id");
      seen.putIfAbsent(classId, p.getString("class_name"));
      double x1 = b.getDouble("x1");
      double y1 = b.getDouble("y1");
      double x2 = b.getDouble("x2");
      double y2 = b.getDouble("y2");
      labels.append(classId).append(' ').append(f((x1 + x2) / 2 / w)).append(' ').append(f((y1 + y2) / 2 / h))
          .append(' ').append(f((x2 - x1) / w)).append(' ').append(f((y2 - y1) / h)).append('\n');
    }
    sources.append("labels/").append(stem).append(".txt\t").append(image.s3Uri()).append('\t').append(image.name())
        .append('\n');
    zip.entry("labels/" + stem + ".txt", utf8(labels));
    return zip.drain();
  }

  @Override
  public Buffer end() {
    Map<Integer, String> names = FormatWriter.classes(classNames, seen);
    StringBuilder yaml = new StringBuilder("# labels of an inference-jobs job: put each image beside its label file as\n"
        + "# images/<stem>.<ext> (sources.txt names them), then train on this folder\n"
        + "path: .\ntrain: images\nval: images\nnames:\n");
    names.forEach((id, name) -> yaml.append("  ").append(id).append(": ").append(quote(name)).append('\n'));
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
