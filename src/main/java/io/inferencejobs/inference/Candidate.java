package io.inferencejobs.inference;

/** A decoded box before NMS, in model-input pixels; {@code index} keeps the output order for stable tie-breaking. */
record Candidate(float x1, float y1, float x2, float y2, float score, int classId, int index) {

  float area() {
    return Math.max(0f, x2 - x1) * Math.max(0f, y2 - y1);
  }

  float iou(Candidate o) {
    float iw = Math.min(x2, o.x2) - Math.max(x1, o.x1);
    float ih = Math.min(y2, o.y2) - Math.max(y1, o.y1);
    if (iw <= 0f || ih <= 0f) {
      return 0f;
    }
    float inter = iw * ih;
    float union = area() + o.area() - inter;
    return union <= 0f ? 0f : inter / union;
  }
}
