package io.inferencejobs.exports;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * Label Studio tasks for pre-annotation: a JSON array, one task per processed image ({@code data.image} is its
 * s3:// URI, which Label Studio reads through a cloud storage), with one prediction of {@code rectanglelabels}
 * results (percentages of the image, as Label Studio stores them), for a labelling config whose RectangleLabels is
 * named {@code label} over an Image named {@code image}. Segmentation adds {@code polygonlabels} (the mask's largest
 * outline) for a PolygonLabels named {@code polygon}; pose adds {@code keypointlabels} (each keypoint scored 0.3 or
 * more) for a KeyPointLabels named {@code keypoint}.
 */
final class LabelStudioWriter implements FormatWriter {
  private boolean first = true;
  private final ImageDrawer cpu;

  LabelStudioWriter(ImageDrawer cpu) {
    this.cpu = cpu;
  }

  /** Outlines are traced from the masks' RLE on the drawer's pool, not on the event loop. */
  @Override
  public Future<Buffer> render(int pass, ExportedImage image) {
    JsonArray predictions = image.predictions();
    boolean masks = predictions != null && predictions.stream().anyMatch(p -> ((JsonObject) p).containsKey("mask"));
    if (!masks || cpu == null || skip(image)) {
      return Future.succeededFuture(image(pass, image));
    }
    return cpu.compute(() -> task(image)).map(this::separated);
  }

  @Override
  public Buffer start() {
    return Buffer.buffer("[");
  }

  @Override
  public Buffer image(int pass, ExportedImage image) {
    return skip(image) ? Buffer.buffer() : separated(task(image));
  }

  private static boolean skip(ExportedImage image) {
    return image.failed() || image.width() == null || image.width() <= 0 || image.height() <= 0;
  }

  private Buffer separated(String task) {
    String sep = first ? "" : ",";
    first = false;
    return Buffer.buffer(sep + task);
  }

  private static String task(ExportedImage image) {
    double w = image.width();
    double h = image.height();
    JsonArray results = new JsonArray();
    double best = 0;
    JsonArray predictions = image.predictions() == null ? new JsonArray() : image.predictions();
    for (int i = 0; i < predictions.size(); i++) {
      JsonObject p = predictions.getJsonObject(i);
      JsonObject b = p.getJsonObject("bbox");
      double score = p.getDouble("confidence");
      best = Math.max(best, score);
      results.add(new JsonObject().put("id", image.index() + "_" + i).put("from_name", "label")
          .put("to_name", "image").put("type", "rectanglelabels").put("original_width", image.width())
          .put("original_height", image.height()).put("image_rotation", 0).put("score", score)
          .put("value", new JsonObject()
              .put("x", pct(b.getDouble("x1") / w)).put("y", pct(b.getDouble("y1") / h))
              .put("width", pct((b.getDouble("x2") - b.getDouble("x1")) / w))
              .put("height", pct((b.getDouble("y2") - b.getDouble("y1")) / h))
              .put("rotation", 0)
              .put("rectanglelabels", new JsonArray().add(label(p)))));
      int[] outline = FormatWriter.outline(p.getJsonObject("mask"));
      if (outline != null) {
        JsonArray points = new JsonArray();
        for (int k = 0; k < outline.length; k += 2) {
          points.add(new JsonArray().add(pct(outline[k] / w)).add(pct(outline[k + 1] / h)));
        }
        results.add(common(image, i, "polygon", "polygonlabels", score).put("value", new JsonObject()
            .put("points", points).put("polygonlabels", new JsonArray().add(label(p)))));
      }
      JsonArray kps = p.getJsonArray("keypoints");
      if (kps != null) {
        for (int k = 0; k < kps.size(); k++) {
          JsonObject kp = kps.getJsonObject(k);
          if (kp.getDouble("score", 1.0) >= 0.3) {
            results.add(common(image, i + "_" + k, "keypoint", "keypointlabels", kp.getDouble("score", 1.0))
                .put("value", new JsonObject().put("x", pct(kp.getDouble("x") / w))
                    .put("y", pct(kp.getDouble("y") / h)).put("width", 0.5)
                    .put("keypointlabels", new JsonArray().add(kp.getString("name")))));
          }
        }
      }
    }
    JsonObject task = new JsonObject()
        .put("data", new JsonObject().put("image", image.s3Uri()).put("image_name", image.name()))
        .put("predictions", new JsonArray().add(new JsonObject().put("model_version", "inference-jobs")
            .put("score", best).put("result", results)));
    return task.encode();
  }

  private static JsonObject common(ExportedImage image, Object id, String from, String type, double score) {
    return new JsonObject().put("id", image.index() + "_" + id + "_" + from).put("from_name", from)
        .put("to_name", "image").put("type", type).put("original_width", image.width())
        .put("original_height", image.height()).put("image_rotation", 0).put("score", score);
  }

  private static String label(JsonObject p) {
    return p.getString("class_name") == null ? "class_" + p.getInteger("class_id") : p.getString("class_name");
  }


  @Override
  public Buffer end() {
    return Buffer.buffer("]");
  }

  private static double pct(double fraction) {
    return Math.round(fraction * 100 * 10000.0) / 10000.0;
  }
}
