package io.inferencejobs.exports;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * One row per prediction: the image (name, URI, size) and the box (pixels), in RFC 4180 CSV with a header; then the
 * task's extras, empty where the task has none: the mask's area, the keypoints ("x y score" per keypoint in the
 * model's order, separated by ';') and the oriented box ("cx cy w h angle"). A classifier's image has one row per top
 * class, its score as the confidence and the box columns empty.
 */
final class CsvWriter implements FormatWriter {
  static final String HEADER = "image_index,image_name,s3_uri,width,height,class_id,class_name,confidence,x1,y1,x2,y2,"
      + "mask_area,keypoints,obb\r\n";

  @Override
  public Buffer start() {
    return Buffer.buffer(HEADER);
  }

  @Override
  public Buffer image(int pass, ExportedImage image) {
    StringBuilder out = new StringBuilder();
    JsonArray predictions = image.predictions() == null ? new JsonArray() : image.predictions();
    for (int i = 0; i < predictions.size(); i++) {
      JsonObject p = predictions.getJsonObject(i);
      JsonObject b = p.getJsonObject("bbox");
      out.append(image.index()).append(',').append(field(image.name())).append(',').append(field(image.s3Uri()))
          .append(',').append(image.width()).append(',').append(image.height())
          .append(',').append(p.getInteger("class_id")).append(',').append(field(p.getString("class_name")))
          .append(',').append(p.getValue("confidence")).append(',').append(b.getValue("x1")).append(',')
          .append(b.getValue("y1")).append(',').append(b.getValue("x2")).append(',').append(b.getValue("y2"))
          .append(',').append(p.getValue("area") == null ? "" : p.getValue("area")).append(',')
          .append(keypoints(p.getJsonArray("keypoints"))).append(',').append(obb(p.getJsonObject("obb")))
          .append("\r\n");
    }
    JsonArray classes = image.classifications() == null ? new JsonArray() : image.classifications();
    for (int i = 0; i < classes.size(); i++) { // a classifier's top classes: the whole image, no box
      JsonObject c = classes.getJsonObject(i);
      out.append(image.index()).append(',').append(field(image.name())).append(',').append(field(image.s3Uri()))
          .append(',').append(image.width()).append(',').append(image.height())
          .append(',').append(c.getInteger("class_id")).append(',').append(field(c.getString("class_name")))
          .append(',').append(c.getValue("score")).append(",,,,,,,\r\n");
    }
    return Buffer.buffer(out.toString());
  }

  private static String keypoints(JsonArray kps) {
    if (kps == null) {
      return "";
    }
    StringBuilder s = new StringBuilder();
    for (int k = 0; k < kps.size(); k++) {
      JsonObject kp = kps.getJsonObject(k);
      s.append(k == 0 ? "" : ";").append(kp.getValue("x")).append(' ').append(kp.getValue("y")).append(' ')
          .append(kp.getValue("score"));
    }
    return s.toString();
  }

  private static String obb(JsonObject o) {
    return o == null ? "" : o.getValue("cx") + " " + o.getValue("cy") + " " + o.getValue("w") + " " + o.getValue("h")
        + " " + o.getValue("angle");
  }

  @Override
  public Buffer end() {
    return Buffer.buffer();
  }

  /** Quoted when it holds a comma, a quote or a line break; a leading formula character is neutralised. */
  static String field(String value) {
    if (value == null) {
      return "";
    }
    String v = value;
    if (!v.isEmpty() && "=+-@".indexOf(v.charAt(0)) >= 0) {
      v = "'" + v; // spreadsheets would run it as a formula
    }
    if (v.contains(",") || v.contains("\"") || v.contains("\n") || v.contains("\r")) {
      return "\"" + v.replace("\"", "\"\"") + "\"";
    }
    return v;
  }
}
