package io.inferencejobs.exports;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A COCO dataset file, as pycocotools and FiftyOne load it: {@code images} (the images that were processed, ids from
 * 1), {@code annotations} (one per prediction: bbox [x, y, width, height] in pixels, area, score) and
 * {@code categories}. Category ids are the model's class ids plus one (COCO keeps 0 for nothing). Two passes: the
 * images, then the annotations; failed images are left out (they are in the errors export).
 */
final class CocoWriter implements FormatWriter {
  private final long jobId;
  private final List<String> classNames;
  private final Map<Integer, String> seen = new TreeMap<>();
  /** The keypoint names of a pose model's results, from the first prediction that has keypoints. */
  private List<String> keypointNames;
  private boolean first = true;
  private long annotationId;

  CocoWriter(long jobId, List<String> classNames) {
    this.jobId = jobId;
    this.classNames = classNames;
  }

  @Override
  public int passes() {
    return 2;
  }

  @Override
  public Buffer start() {
    return Buffer.buffer("{\"info\":" + new JsonObject().put("description", "inference-jobs job " + jobId)
        .put("version", "1.0").encode() + ",\"licenses\":[],\"images\":[");
  }

  @Override
  public Buffer image(int pass, ExportedImage image) {
    if (image.failed() || image.width() == null) {
      return Buffer.buffer();
    }
    Buffer out = Buffer.buffer();
    if (pass == 0) {
      separator(out);
      out.appendString(new JsonObject().put("id", image.index() + 1).put("file_name", image.name())
          .put("width", image.width()).put("height", image.height()).put("s3_uri", image.s3Uri()).encode());
      return out;
    }
    JsonArray predictions = image.predictions() == null ? new JsonArray() : image.predictions();
    for (int i = 0; i < predictions.size(); i++) {
      JsonObject p = predictions.getJsonObject(i);
      JsonObject b = p.getJsonObject("bbox");
      int classId = p.getInteger("class_id");
      seen.putIfAbsent(classId, p.getString("class_name"));
      double x = b.getDouble("x1");
      double y = b.getDouble("y1");
      double w = b.getDouble("x2") - x;
      double h = b.getDouble("y2") - y;
      separator(out);
      JsonObject a = new JsonObject().put("id", ++annotationId).put("image_id", image.index() + 1)
          .put("category_id", classId + 1).put("bbox", new JsonArray().add(x).add(y).add(round(w)).add(round(h)))
          .put("area", round(w * h)).put("iscrowd", 0).put("score", p.getDouble("confidence"));
      JsonObject mask = p.getJsonObject("mask");
      if (mask != null) {
        // compressed RLE, as pycocotools' annToMask reads it; the area is the mask's
        a.put("segmentation", mask.copy()).put("area", p.getLong("area", 0L));
      }
      JsonArray kps = p.getJsonArray("keypoints");
      if (kps != null) {
        // x, y, v per keypoint: v = 2 (visible) for a score of at least 0.5, else 1 (labelled, not sure)
        JsonArray flat = new JsonArray();
        JsonArray scores = new JsonArray();
        for (int k = 0; k < kps.size(); k++) {
          JsonObject kp = kps.getJsonObject(k);
          double score = kp.getDouble("score", 1.0);
          flat.add(kp.getDouble("x")).add(kp.getDouble("y")).add(score >= 0.5 ? 2 : 1);
          scores.add(score);
        }
        a.put("keypoints", flat).put("num_keypoints", kps.size()).put("keypoint_scores", scores);
        if (keypointNames == null) {
          keypointNames = kps.stream().map(o -> ((JsonObject) o).getString("name")).toList();
        }
      }
      out.appendString(a.encode());
    }
    return out;
  }

  @Override
  public Buffer afterPass(int pass) {
    first = true;
    return Buffer.buffer(pass == 0 ? "],\"annotations\":[" : "");
  }

  @Override
  public Buffer end() {
    Map<Integer, String> categories = FormatWriter.classes(classNames, seen);
    JsonArray out = new JsonArray();
    categories.forEach((id, name) -> {
      JsonObject c = new JsonObject().put("id", id + 1).put("name", name).put("supercategory", "object");
      if (keypointNames != null) {
        c.put("keypoints", new JsonArray(keypointNames));
        if (keypointNames.equals(io.inferencejobs.inference.Keypoints.COCO)) {
          JsonArray skeleton = new JsonArray();
          for (int[] limb : io.inferencejobs.inference.Keypoints.COCO_SKELETON) {
            skeleton.add(new JsonArray().add(limb[0] + 1).add(limb[1] + 1)); // COCO's skeleton is 1-based
          }
          c.put("skeleton", skeleton);
        }
      }
      out.add(c);
    });
    return Buffer.buffer("],\"categories\":" + out.encode() + "}");
  }

  private void separator(Buffer out) {
    if (!first) {
      out.appendString(",");
    }
    first = false;
  }

  static double round(double v) {
    return Math.round(v * 100.0) / 100.0;
  }
}
