package io.inferencejobs.exports;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** The files a job's results leave the service as. */
public enum ExportFormat {
  /** A COCO dataset file (images, annotations with bbox [x, y, w, h] and score, categories). */
  COCO("coco.json", "application/json"),
  /**
   * A zip of one YOLO label file per image (class cx cy w h, normalised; a mask's outline for segmentation, the
   * keypoints after the box for pose) and data.yaml with the class names (and kpt_shape for pose).
   */
  YOLO("yolo.zip", "application/zip"),
  /** One row per prediction. */
  CSV("csv", "text/csv; charset=utf-8"),
  /** One line per image with all its predictions (or its error). */
  JSONL("jsonl", "application/x-ndjson"),
  /** One line per image that failed: name, code, message. */
  ERRORS("errors.jsonl", "application/x-ndjson"),
  /** Label Studio tasks with predictions, for pre-annotation. */
  LABELSTUDIO("labelstudio.json", "application/json"),
  /** A zip of the images with their predictions drawn. */
  ANNOTATED("annotated.zip", "application/zip");

  private final String suffix;
  private final String contentType;

  ExportFormat(String suffix, String contentType) {
    this.suffix = suffix;
    this.contentType = contentType;
  }

  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  public String contentType() {
    return contentType;
  }

  /** The file name of job {@code jobId}'s export in this format. */
  public String fileName(long jobId) {
    return "job-" + jobId + "." + suffix;
  }

  public static Optional<ExportFormat> parse(String text) {
    for (ExportFormat f : values()) {
      if (f.id().equals(text)) {
        return Optional.of(f);
      }
    }
    return Optional.empty();
  }

  public static List<String> ids() {
    return java.util.Arrays.stream(values()).map(ExportFormat::id).toList();
  }

  /**
   * The writer of one export of a job whose model has {@code classNames} (null when unknown); {@code drawer} makes
   * the annotated images.
   */
  public FormatWriter writer(long jobId, List<String> classNames, ImageDrawer drawer) {
    return switch (this) {
      case COCO -> new CocoWriter(jobId, classNames);
      case YOLO -> new YoloWriter(classNames, drawer);
      case CSV -> new CsvWriter();
      case JSONL -> new JsonlWriter(false);
      case ERRORS -> new JsonlWriter(true);
      case LABELSTUDIO -> new LabelStudioWriter(drawer);
      case ANNOTATED -> new AnnotatedWriter(drawer);
    };
  }
}
