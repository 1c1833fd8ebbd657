package io.inferencejobs.exports;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * A zip in the YOLO training layout: {@code labels/<image stem>.txt} per processed image, a line per prediction
 * ({@code class cx cy w h}, normalised to the image's size, six decimals; an image without predictions gets an empty
 * file, as YOLO expects of background images), {@code data.yaml} with the class names, and {@code sources.txt}
 * naming the image each label file belongs to. Streamed: each entry's bytes go out as it is written.
 */
final class YoloWriter implements FormatWriter {
  private final List<String> classNames;
  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  private final ZipOutputStream zip = new ZipOutputStream(bytes);
  private final Set<String> stems = new HashSet<>();
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
    String stem = stem(image);
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
    entry("labels/" + stem + ".txt", labels.toString());
    return drain();
  }

  @Override
  public Buffer end() {
    Map<Integer, String> names = FormatWriter.classes(classNames, seen);
    StringBuilder yaml = new StringBuilder("# labels of an inference-jobs job: put each image beside its label file as\n"
        + "# images/<stem>.<ext> (sources.txt names them), then train on this folder\n"
        + "path: .\ntrain: images\nval: images\nnames:\n");
    names.forEach((id, name) -> yaml.append("  ").append(id).append(": ").append(quote(name)).append('\n'));
    entry("data.yaml", yaml.toString());
    entry("sources.txt", sources.toString());
    try {
      zip.finish();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return drain();
  }

  /** The image's name without folders and extension, made unique within the zip. */
  private String stem(ExportedImage image) {
    String name = image.name() == null ? "image" : image.name();
    name = name.substring(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
    int dot = name.lastIndexOf('.');
    String stem = (dot > 0 ? name.substring(0, dot) : name).replaceAll("[^\\w.-]", "_");
    if (stem.isEmpty()) {
      stem = "image";
    }
    return stems.add(stem) ? stem : uniqueStem(stem + "_" + image.index());
  }

  private String uniqueStem(String candidate) {
    String s = candidate;
    for (int i = 2; !stems.add(s); i++) {
      s = candidate + "_" + i;
    }
    return s;
  }

  private void entry(String name, String text) {
    try {
      zip.putNextEntry(new ZipEntry(name));
      zip.write(text.getBytes(StandardCharsets.UTF_8));
      zip.closeEntry();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private Buffer drain() {
    Buffer out = Buffer.buffer(bytes.toByteArray());
    bytes.reset();
    return out;
  }

  private static String f(double v) {
    return String.format(Locale.ROOT, "%.6f", Math.max(0, Math.min(1, v)));
  }

  private static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
