package io.inferencejobs.inference;

import java.util.List;

/**
 * What the engine found in one image.
 *
 * @param width         original width in pixels, after EXIF rotation (0 when the image could not be read)
 * @param height        original height in pixels, after EXIF rotation
 * @param detections    best first
 * @param decodeMs      time spent decoding the image
 * @param preprocessMs  time spent resizing and converting it to the input tensor
 * @param inferenceMs   this image's share of its batch's {@code session.run}
 * @param postprocessMs time spent decoding the output, NMS and mapping boxes back
 * @param error         why the image could not be processed, {@code null} when it was
 */
public record ImageResult(int width, int height, List<Detection> detections, double decodeMs, double preprocessMs,
                          double inferenceMs, double postprocessMs, String error) {

  public ImageResult {
    detections = detections == null ? List.of() : List.copyOf(detections);
  }

  public static ImageResult failed(String error) {
    return new ImageResult(0, 0, List.of(), 0, 0, 0, 0, error);
  }

  public boolean ok() {
    return error == null;
  }
}
