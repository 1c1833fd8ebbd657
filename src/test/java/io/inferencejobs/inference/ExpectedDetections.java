package io.inferencejobs.inference;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;

/** The tables of src/test/resources/models/README.md, and a matcher with the tolerances the issue sets. */
final class ExpectedDetections {

  static final float CONFIDENCE_TOLERANCE = 0.02f;
  static final float BOX_TOLERANCE = 3f;

  /** Letterbox 640 (the yolov8 and e2e files). */
  static final String[][] WRAPPED = {
      {"dog.jpg", "768", "576", "car 0.53 469,78,682,166; bicycle 0.52 116,135,564,473; dog 0.39 125,210,310,538; "
          + "bicycle 0.32 136,138,258,220; truck 0.29 469,78,682,166"},
      {"person.jpg", "640", "424", "person 0.76 191,104,273,379; dog 0.43 66,263,197,351; cow 0.36 404,137,603,339; "
          + "horse 0.34 404,137,603,339; cow 0.30 66,263,197,351; sheep 0.26 404,137,603,339"},
      {"horses.jpg", "773", "512", "horse 0.77 431,212,602,347; horse 0.57 0,189,311,409; horse 0.35 243,199,428,367; "
          + "cow 0.27 431,212,602,347; horse 0.25 1,185,152,275"},
      {"giraffe.jpg", "500", "500", "zebra 0.58 308,204,422,446; giraffe 0.48 162,26,453,441"},
  };

  /** Stretch 512 (the raw file through a descriptor). */
  static final String[][] RAW = {
      {"dog.jpg", "768", "576", "car 0.55 473,81,684,165; bicycle 0.49 110,124,564,446; dog 0.42 124,207,312,543; "
          + "truck 0.32 473,81,684,165; parking meter 0.31 422,104,452,136"},
      {"person.jpg", "640", "424", "person 0.67 187,110,276,375; dog 0.45 67,264,201,348; sheep 0.30 399,136,603,341; "
          + "horse 0.28 398,136,603,342"},
      {"horses.jpg", "773", "512", "horse 0.67 433,209,603,346; horse 0.57 0,189,313,413; horse 0.37 242,191,441,370; "
          + "horse 0.26 2,187,151,247"},
      {"giraffe.jpg", "500", "500", "zebra 0.59 307,204,423,448; giraffe 0.49 163,26,453,444"},
  };

  record Expected(String className, float confidence, float x1, float y1, float x2, float y2) {
  }

  private ExpectedDetections() {
  }

  static List<Expected> parse(String table) {
    List<Expected> out = new ArrayList<>();
    for (String item : table.split(";\\s*")) {
      int lastSpace = item.lastIndexOf(' ');
      String[] box = item.substring(lastSpace + 1).split(",");
      String head = item.substring(0, lastSpace);
      int confSpace = head.lastIndexOf(' ');
      out.add(new Expected(head.substring(0, confSpace), Float.parseFloat(head.substring(confSpace + 1)),
          Float.parseFloat(box[0]), Float.parseFloat(box[1]), Float.parseFloat(box[2]), Float.parseFloat(box[3])));
    }
    return out;
  }

  /**
   * Same detections (one-to-one, any order), within the tolerances. A detection scoring within the confidence
   * tolerance of the 0.25 threshold may be on either side of it, so it may be missing or extra.
   */
  static void assertMatches(String image, ImageResult result, String[] row) {
    float borderline = 0.25f + CONFIDENCE_TOLERANCE;
    assertThat(result.error()).as(image).isNull();
    assertThat(result.width()).as(image + " width").isEqualTo(Integer.parseInt(row[1]));
    assertThat(result.height()).as(image + " height").isEqualTo(Integer.parseInt(row[2]));
    List<Expected> expected = parse(row[3]);
    List<Detection> remaining = new ArrayList<>(result.detections());
    for (Expected e : expected) {
      Detection match = remaining.stream().filter(d -> matches(d, e)).findFirst().orElse(null);
      if (match == null && e.confidence() <= borderline) {
        continue;
      }
      assertThat(match).as("%s: expected %s among %s", image, e, result.detections()).isNotNull();
      remaining.remove(match);
    }
    remaining.removeIf(d -> d.confidence() <= borderline);
    assertThat(remaining).as("%s: unexpected extra detections", image).isEmpty();
  }

  private static boolean matches(Detection d, Expected e) {
    return d.className().equals(e.className())
        && Math.abs(d.confidence() - e.confidence()) <= CONFIDENCE_TOLERANCE
        && Math.abs(d.bbox().x1() - e.x1()) <= BOX_TOLERANCE && Math.abs(d.bbox().y1() - e.y1()) <= BOX_TOLERANCE
        && Math.abs(d.bbox().x2() - e.x2()) <= BOX_TOLERANCE && Math.abs(d.bbox().y2() - e.y2()) <= BOX_TOLERANCE;
  }
}
