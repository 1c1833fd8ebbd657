package io.inferencejobs.exports;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes one export, image by image, in bounded memory: the caller reads a job's images in order (once per pass) and
 * sends each piece as it comes. Pure (no I/O), so that each format is tested on its own and the same writer serves
 * downloads and files written to S3.
 */
public interface FormatWriter {
  /** How many times the images are read (COCO lists images, then annotations). */
  default int passes() {
    return 1;
  }

  Buffer start();

  Buffer image(int pass, ExportedImage image);

  /** The image's piece when it takes I/O or a worker to make (annotated images); the streamer calls this one. */
  default Future<Buffer> render(int pass, ExportedImage image) {
    return Future.succeededFuture(image(pass, image));
  }

  /** What goes between pass {@code pass} and the next one. */
  default Buffer afterPass(int pass) {
    return Buffer.buffer();
  }

  Buffer end();

  /** Class id to name: the model's names first, then any class the results name that the model's list lacks. */
  static Map<Integer, String> classes(List<String> classNames, Map<Integer, String> seen) {
    Map<Integer, String> out = new TreeMap<>();
    if (classNames != null) {
      for (int i = 0; i < classNames.size(); i++) {
        out.put(i, classNames.get(i));
      }
    }
    seen.forEach((id, name) -> out.putIfAbsent(id, name == null ? "class_" + id : name));
    return out;
  }

  /**
   * A mask's largest outer contour as x, y pixel pairs (at least 3 points), or null without a mask. CPU work (the
   * mask is decoded whole): writers call it from {@link #render} on a worker pool.
   */
  static int[] outline(io.vertx.core.json.JsonObject mask) {
    if (mask == null || mask.getJsonArray("size") == null) {
      return null;
    }
    int mh = mask.getJsonArray("size").getInteger(0);
    int mw = mask.getJsonArray("size").getInteger(1);
    List<int[]> contours = io.inferencejobs.inference.Contours.outer(
        io.inferencejobs.inference.Rle.decode(mask.getString("counts"), mh, mw), mw, mh, 1);
    return contours.isEmpty() || contours.get(0).length < 6 ? null : contours.get(0);
  }
}
