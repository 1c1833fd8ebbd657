package io.inferencejobs.exports;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * Label Studio tasks for pre-annotation: a JSON array, one task per processed image ({@code data.image} is its
 * s3:// URI, which Label Studio reads through a cloud storage), with one prediction of {@code rectanglelabels}
 * results (percentages of the image, as Label Studio stores them), for a labelling config whose RectangleLabels is
 * named {@code label} over an Image named {@code image}.
 */
final class LabelStudioWriter implements FormatWriter {
  private boolean first = true;

  @Override
  public Buffer start() {
    return Buffer.buffer("[");
  }

  @Override
  public Buffer image(int pass, ExportedImage image) {
    if (image.failed() || image.width() == null || image.width() <= 0 || image.height() <= 0) {
      return Buffer.buffer();
    }
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
              .put("rectanglelabels", new JsonArray().add(p.getString("class_name") == null
                  ? "class_" + p.getInteger("class_id") : p.getString("class_name")))));
    }
    JsonObject task = new JsonObject()
        .put("data", new JsonObject().put("image", image.s3Uri()).put("image_name", image.name()))
        .put("predictions", new JsonArray().add(new JsonObject().put("model_version", "inference-jobs")
            .put("score", best).put("result", results)));
    String sep = first ? "" : ",";
    first = false;
    return Buffer.buffer(sep + task.encode());
  }

  @Override
  public Buffer end() {
    return Buffer.buffer("]");
  }

  private static double pct(double fraction) {
    return Math.round(fraction * 100 * 10000.0) / 10000.0;
  }
}
