package io.inferencejobs.exports;

import io.inferencejobs.inference.Annotator;
import io.inferencejobs.inference.BBox;
import io.inferencejobs.inference.Detection;
import io.inferencejobs.inference.ImageException;
import io.inferencejobs.inference.Keypoint;
import io.inferencejobs.inference.Mask;
import io.inferencejobs.inference.Obb;
import io.inferencejobs.storage.S3Storage;
import io.inferencejobs.storage.S3Uri;
import io.inferencejobs.support.BoundedExecutor;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.List;

/** Makes the annotated JPEG of one processed image: its stored bytes read from S3, its predictions drawn on a pool. */
@FunctionalInterface
public interface ImageDrawer {
  Future<byte[]> draw(ExportedImage image);

  /** Runs CPU work of an export (mask outlines) where this drawer draws: here at once, on its pool when it has one. */
  default <T> Future<T> compute(java.util.concurrent.Callable<T> task) {
    try {
      return Future.succeededFuture(task.call());
    } catch (Exception e) {
      return Future.failedFuture(e);
    }
  }

  /**
   * Reads with {@code storage} (at most {@code maxBytes}) and draws on {@code pool} (at most {@code maxPixels}). An
   * image that is gone or no longer decodes fails with {@link NotDrawable}; a full pool or an S3 fault as they are.
   */
  static ImageDrawer of(S3Storage storage, BoundedExecutor pool, long maxBytes, long maxPixels) {
    ImageDrawer drawer = image -> {
      S3Uri uri = S3Uri.parse(image.s3Uri()).orElse(null);
      if (uri == null) {
        return Future.failedFuture(new NotDrawable("its location " + image.s3Uri() + " is not an S3 URI"));
      }
      return storage.getBytes(uri, maxBytes, "limits.max_image_bytes (MAX_IMAGE_BYTES)")
          .recover(err -> Future.failedFuture(S3Storage.missing(err)
              ? new NotDrawable("the stored image " + image.s3Uri() + " no longer exists")
              : err instanceof S3Storage.TooLarge ? new NotDrawable(err.getMessage()) : err))
          .compose(bytes -> pool.submit(() -> {
            try {
              return Annotator.annotate(bytes, detections(image.predictions()), maxPixels);
            } catch (ImageException e) {
              throw new NotDrawable(e.getMessage());
            }
          }));
    };
    return new ImageDrawer() {
      @Override
      public Future<byte[]> draw(ExportedImage image) {
        return drawer.draw(image);
      }

      @Override
      public <T> Future<T> compute(java.util.concurrent.Callable<T> task) {
        return pool.submit(task);
      }
    };
  }

  /** The stored predictions as the engine's detections. */
  static List<Detection> detections(JsonArray predictions) {
    List<Detection> out = new ArrayList<>();
    if (predictions == null) {
      return out;
    }
    for (int i = 0; i < predictions.size(); i++) {
      JsonObject p = predictions.getJsonObject(i);
      JsonObject b = p.getJsonObject("bbox");
      if (b == null) {
        continue;
      }
      Mask mask = null;
      JsonObject m = p.getJsonObject("mask");
      if (m != null && m.getJsonArray("size") != null && m.getJsonArray("size").size() == 2) {
        mask = new Mask(m.getJsonArray("size").getInteger(0), m.getJsonArray("size").getInteger(1),
            m.getString("counts"), p.getLong("area", 0L));
      }
      List<Keypoint> keypoints = null;
      JsonArray kps = p.getJsonArray("keypoints");
      if (kps != null) {
        keypoints = new ArrayList<>(kps.size());
        for (int k = 0; k < kps.size(); k++) {
          JsonObject kp = kps.getJsonObject(k);
          keypoints.add(new Keypoint(kp.getString("name"), kp.getNumber("x").floatValue(),
              kp.getNumber("y").floatValue(), kp.getNumber("score", 1).floatValue()));
        }
      }
      Obb obb = null;
      JsonObject o = p.getJsonObject("obb");
      if (o != null && o.getJsonArray("corners") != null && o.getJsonArray("corners").size() == 4) {
        float[] corners = new float[8];
        for (int c = 0; c < 4; c++) {
          corners[2 * c] = o.getJsonArray("corners").getJsonArray(c).getNumber(0).floatValue();
          corners[2 * c + 1] = o.getJsonArray("corners").getJsonArray(c).getNumber(1).floatValue();
        }
        obb = new Obb(o.getNumber("cx").floatValue(), o.getNumber("cy").floatValue(), o.getNumber("w").floatValue(),
            o.getNumber("h").floatValue(), o.getNumber("angle").floatValue(), corners);
      }
      out.add(new Detection(p.getInteger("class_id", 0), p.getString("class_name"),
          p.getNumber("confidence", 0).floatValue(), new BBox(b.getNumber("x1").floatValue(),
          b.getNumber("y1").floatValue(), b.getNumber("x2").floatValue(), b.getNumber("y2").floatValue()),
          mask, keypoints, obb));
    }
    return out;
  }

  /** Why one image cannot be drawn: the others go on. */
  final class NotDrawable extends RuntimeException {
    public NotDrawable(String message) {
      super(message, null, false, false);
    }
  }
}
