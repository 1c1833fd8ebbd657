package io.inferencejobs.exports;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * JSON Lines: one line per image with its predictions (or its error); or, for the errors export, one line per image
 * that failed, with the error's code and message.
 */
final class JsonlWriter implements FormatWriter {
  private final boolean errorsOnly;

  JsonlWriter(boolean errorsOnly) {
    this.errorsOnly = errorsOnly;
  }

  @Override
  public Buffer start() {
    return Buffer.buffer();
  }

  @Override
  public Buffer image(int pass, ExportedImage image) {
    if (errorsOnly) {
      if (!image.failed()) {
        return Buffer.buffer();
      }
      return Buffer.buffer(new JsonObject().put("image_index", image.index()).put("image_name", image.name())
          .put("s3_uri", image.s3Uri()).put("code", image.errorCode() == null ? "error" : image.errorCode())
          .put("message", image.error()).encode() + "\n");
    }
    JsonObject line = new JsonObject().put("image_index", image.index()).put("image_name", image.name())
        .put("s3_uri", image.s3Uri()).put("width", image.width()).put("height", image.height())
        .put("predictions", image.predictions() == null ? new JsonArray() : image.predictions());
    if (image.classifications() != null) {
      line.put("classifications", image.classifications());
    }
    return Buffer.buffer(line.put("error", image.error()).put("error_code", image.errorCode()).encode() + "\n");
  }

  @Override
  public Buffer end() {
    return Buffer.buffer();
  }
}
