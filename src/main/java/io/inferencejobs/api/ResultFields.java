package io.inferencejobs.api;

import io.inferencejobs.inference.Contours;
import io.inferencejobs.inference.Rle;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * {@code ?include=} of the results: which of a prediction's heavy fields a page carries. Masks and keypoints come by
 * default; polygons are made on request from the masks (CPU work: callers run {@link #apply} on a worker pool).
 */
record ResultFields(Set<Field> fields) {
  enum Field { MASKS, POLYGONS, KEYPOINTS }

  static final ResultFields DEFAULT = new ResultFields(EnumSet.of(Field.MASKS, Field.KEYPOINTS));

  static ResultFields parse(String include) {
    if (include == null) {
      return DEFAULT;
    }
    EnumSet<Field> out = EnumSet.noneOf(Field.class);
    for (String part : include.split(",", -1)) {
      String p = part.trim().toLowerCase(Locale.ROOT);
      switch (p) {
        case "masks" -> out.add(Field.MASKS);
        case "polygons" -> out.add(Field.POLYGONS);
        case "keypoints" -> out.add(Field.KEYPOINTS);
        case "none" -> { }
        default -> throw ApiError.badRequest("include", "unknown value '" + part + "'; use masks, polygons, "
            + "keypoints or none, comma-separated");
      }
    }
    return new ResultFields(out);
  }

  boolean isDefault() {
    return fields.equals(DEFAULT.fields);
  }

  /** The result with the fields asked for (a copy; the stored one is untouched). */
  JsonObject apply(JsonObject result) {
    JsonArray predictions = result.getJsonArray("predictions");
    if (predictions == null) {
      return result;
    }
    JsonObject out = result.copy();
    JsonArray kept = new JsonArray();
    for (int i = 0; i < predictions.size(); i++) {
      JsonObject p = predictions.getJsonObject(i).copy();
      JsonObject mask = p.getJsonObject("mask");
      if (mask != null && fields.contains(Field.POLYGONS)) {
        int h = mask.getJsonArray("size").getInteger(0);
        int w = mask.getJsonArray("size").getInteger(1);
        JsonArray polygons = new JsonArray();
        for (int[] contour : Contours.outer(Rle.decode(mask.getString("counts"), h, w), w, h, 1)) {
          JsonArray flat = new JsonArray();
          for (int v : contour) {
            flat.add(v);
          }
          polygons.add(flat);
        }
        p.put("polygon", polygons);
      }
      if (!fields.contains(Field.MASKS)) {
        p.remove("mask");
        if (!fields.contains(Field.POLYGONS)) {
          p.remove("area");
        }
      }
      if (!fields.contains(Field.KEYPOINTS)) {
        p.remove("keypoints");
      }
      kept.add(p);
    }
    return out.put("predictions", kept);
  }
}
