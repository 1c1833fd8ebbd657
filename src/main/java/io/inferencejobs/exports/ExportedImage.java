package io.inferencejobs.exports;

import io.vertx.core.json.JsonArray;

/**
 * One image of a job as the exports read it: its index and name, where it is, its size and predictions when it was
 * processed, or its error (with the error's kind); a classifier's top classes.
 */
public record ExportedImage(int index, String name, String s3Uri, Integer width, Integer height, JsonArray predictions,
                            String error, String errorCode, JsonArray classifications) {

  public ExportedImage(int index, String name, String s3Uri, Integer width, Integer height, JsonArray predictions,
                       String error, String errorCode) {
    this(index, name, s3Uri, width, height, predictions, error, errorCode, null);
  }

  public boolean failed() {
    return error != null;
  }
}
